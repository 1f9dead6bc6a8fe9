"""durable-rules isolated in a supervised child process (what ``backend="durable"`` gives).

durable-rules' C core can crash the process that loads it (a segmentation fault in 2 to 334
of 336 runs of ``telcoflow test rules/`` on Python 3.11, depending on how it was started).
:class:`IsolatedDurableBackend` never loads it in the host process: a :class:`Supervisor`
starts one child process
(:func:`telcoflow.rules._durable_child.main` under this interpreter), shared by every
isolated backend of the process, and forwards each observation over a pipe.

When the child dies (a signal, an exit, a closed pipe, or no answer within
:attr:`Supervisor.timeout`) the supervisor starts a new one and rebuilds its state: every live
backend is prepared again and the observations it holds are replayed, then the request that
was in flight is sent again. Each backend keeps, per rule and key, the observations since the
key last fired, dropping those older than the rule's window (a ``total`` rule without a window
holds one observation carrying the running sum). When the child dies
:attr:`Supervisor.max_crashes` times in a row (no request answered in between),
:class:`~telcoflow.rules.stateful.StatefulError` says so and names how the last one ended.
:func:`crash_count` tells how many crashes were absorbed.

The cost is one pipe round trip per observation (see ``benchmarks/stateful_isolation.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from typing import IO, Any

from telcoflow.rules._durable_child import HEADER, write_frame
from telcoflow.rules.pack import StatefulRule
from telcoflow.rules.stateful import Observation, RuleSpec, StatefulError

__all__ = ["IsolatedDurableBackend", "Supervisor", "crash_count"]

# not ``-m``: runpy would warn that telcoflow.rules already imported the module
_CHILD_COMMAND = (sys.executable, "-c",
                  "from telcoflow.rules._durable_child import main; main()")


class _ChildDiedError(Exception):
    """The child stopped answering (internal: the supervisor restarts it)."""


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class _Child:
    """One running child process and its pipes."""

    def __init__(self, command: Sequence[str]) -> None:
        self.proc = subprocess.Popen(list(command), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, close_fds=True)
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self._in: IO[bytes] = self.proc.stdin
        self._fd = self.proc.stdout.fileno()

    def _read(self, n: int, timeout: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                self.kill()
                raise _ChildDiedError("timeout")
            chunk = os.read(self._fd, n - len(buf))
            if not chunk:
                raise _ChildDiedError("eof")
            buf += chunk
        return bytes(buf)

    def call(self, request: tuple[Any, ...], timeout: float) -> Any:
        """Send ``request``; its reply value. Raises _ChildDiedError, or StatefulError for
        an error the child reported."""
        try:
            write_frame(self._in, request)
        except (BrokenPipeError, OSError) as exc:
            raise _ChildDiedError("write") from exc
        (size,) = HEADER.unpack(self._read(HEADER.size, timeout))
        status, value = pickle.loads(self._read(size, timeout))
        if status == "err":
            raise StatefulError(f"the durable backend failed: {value}")
        return value

    def discard(self) -> str:
        """Reap the dead (or stuck: killed) child, close its pipes; how it ended."""
        try:
            code: int | None = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        self._close_pipes()
        return _describe_exit(code)

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def kill(self) -> None:
        """Stop the child now."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        """Ask the child to leave (close its input), then make sure it did."""
        with contextlib.suppress(OSError):
            self._in.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_pipes()


class Supervisor:
    """Starts, watches and restarts the durable-rules child (one per process by default).

    ``command`` is the child's command line (the default runs
    :mod:`telcoflow.rules._durable_child` with this interpreter).
    """

    def __init__(self, command: Sequence[str] = _CHILD_COMMAND, *, max_crashes: int = 3,
                 timeout: float = 60.0) -> None:
        self.command = tuple(command)
        self.max_crashes = max_crashes
        self.timeout = timeout
        self.crashes = 0
        """Child crashes absorbed so far (each followed by a restart and a replay)."""
        self.lock = threading.RLock()
        """Held by every request; backends hold it while they change what they replay."""
        self._child: _Child | None = None
        self._owner = os.getpid()
        self._ids = itertools.count(1)
        self._backends: weakref.WeakValueDictionary[int, IsolatedDurableBackend] = \
            weakref.WeakValueDictionary()

    def register(self, backend: IsolatedDurableBackend) -> int:
        """A new backend id (its state is replayed into every restarted child)."""
        with self.lock:
            bid = next(self._ids)
            self._backends[bid] = backend
            return bid

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before the first request)."""
        child = self._child
        return child.proc.pid if child is not None and self._owner == os.getpid() else None

    def _start(self) -> None:
        try:
            child = _Child(self.command)
        except OSError as exc:
            raise StatefulError(f"the durable-rules child process cannot start: {exc}") from exc
        self._child = child  # a crash during the replay is handled like any other
        for bid, backend in sorted(self._backends.items()):
            child.call(("prepare", bid, backend.specs, backend.max_sessions), self.timeout)
            for spec, obs in backend.held():
                child.call(("observe", bid, spec, obs), self.timeout)

    def call(self, *request: Any) -> Any:
        """Send ``request`` to the child (started, or restarted with its state rebuilt)."""
        with self.lock:
            if self._owner != os.getpid():  # forked: the child belongs to our parent
                self._owner, self._child = os.getpid(), None
            in_a_row = 0
            while True:
                try:
                    if self._child is None:
                        self._start()
                    assert self._child is not None
                    return self._child.call(request, self.timeout)
                except _ChildDiedError as died:
                    child, self._child = self._child, None
                    how = child.discard() if child is not None else "it did not start"
                    if str(died) == "timeout":
                        how = f"no answer within {self.timeout:g} s"
                    in_a_row += 1
                    self.crashes += 1
                    if in_a_row >= self.max_crashes:
                        raise StatefulError(
                            f"the durable-rules child process crashed {in_a_row} times in a "
                            f"row ({how}); its state could not be rebuilt. Use the python "
                            "backend (backend='python')") from None

    def stop(self) -> None:
        """Stop the child (a later request starts a new one)."""
        with self.lock:
            if self._child is not None and self._owner == os.getpid():
                self._child.stop()
            self._child = None


_DEFAULT: Supervisor | None = None
_DEFAULT_LOCK = threading.Lock()


def _default_supervisor() -> Supervisor:
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Supervisor()
            atexit.register(_DEFAULT.stop)
        return _DEFAULT


def crash_count() -> int:
    """Crashes of the process's durable-rules child absorbed so far (0 when never started)."""
    return _DEFAULT.crashes if _DEFAULT is not None else 0


class IsolatedDurableBackend:
    """durable-rules correlation in a supervised child process (see the module docstring).

    Same semantics as :class:`~telcoflow.rules.stateful.DurableBackend` (``max_sessions`` is
    passed on to it); a crash of the child costs a restart and a replay, never the host
    process. ``supervisor`` defaults to the process's own.
    """

    name = "durable"

    def __init__(self, max_sessions: int | None = None, *,
                 supervisor: Supervisor | None = None) -> None:
        self.max_sessions = max_sessions
        self._sup = supervisor or _default_supervisor()
        self.specs: tuple[RuleSpec, ...] = ()
        self._held: dict[tuple[str, str], deque[tuple[Any, ...]]] = {}
        self._spec: dict[str, RuleSpec] = {}
        self._id = self._sup.register(self)

    @property
    def supervisor(self) -> Supervisor:
        """The supervisor of the child this backend runs in."""
        return self._sup

    def prepare(self, rules: Sequence[StatefulRule | RuleSpec]) -> None:
        """Set the rules up in the child."""
        with self._sup.lock:
            self.specs = tuple(RuleSpec.of(r) for r in rules)
            self._spec = {s.id: s for s in self.specs}
            self._sup.call("prepare", self._id, self.specs, self.max_sessions)

    def observe(self, rule: StatefulRule | RuleSpec, obs: Observation) -> bool:
        """Forward ``obs``; hold it (for a replay) until its key fires or it leaves the window."""
        spec = self._spec[rule.id]
        item = (obs.key, obs.t, obs.steps, obs.value, obs.reach)
        with self._sup.lock:  # a replay (another thread's restart) reads what we hold
            if self._sup.call("observe", self._id, spec, item):
                self._held.pop((spec.id, obs.key), None)
                return True
            held = self._held.setdefault((spec.id, obs.key), deque())
            if spec.pattern == "total" and spec.window_ms is None and held:
                # no window: only the running sum matters; one observation carries it (it
                # did not reach this event's `reach`, so its replay does not fire either)
                value = (held[0][3] or Decimal(0)) + (obs.value or Decimal(0))
                held[0] = (obs.key, obs.t, obs.steps, value, obs.reach)
                return False
            held.append(item)
            if spec.window_ms is not None:
                while held and obs.t - held[0][1] > spec.window_ms:
                    held.popleft()
            return False

    def held(self) -> list[tuple[RuleSpec, tuple[Any, ...]]]:
        """The observations a restarted child is replayed, per key in arrival order."""
        return [(self._spec[rid], item) for (rid, _), items in self._held.items()
                for item in items]

    def live_keys(self) -> int:
        """Keys holding a live durable session in the child."""
        return int(self._sup.call("live_keys", self._id))

    def shard_count(self, rule_id: str) -> int:
        """Ruleset shards open for ``rule_id`` in the child."""
        return int(self._sup.call("shard_count", self._id, rule_id))

    def close(self) -> None:
        """Release this backend's sessions in the child (it may be used again)."""
        with self._sup.lock:
            self._held.clear()
            self._sup.call("close", self._id)
