"""Stateful and temporal rules ("three top-ups within an hour", "slice usage passed 80 % of
the pass") behind one engine and two interchangeable backends.

The rule-pack format (:class:`~telcoflow.rules.model.StatefulRuleModel`) knows nothing of
the backend. :class:`StatefulEngine` evaluates every condition, key, time and amount in
Python (the same compiled expressions as the rest of the pack) and hands each backend only
*observations*: (rule, key, time in ms, matched steps, value). The backend correlates them:

* :class:`PythonBackend` - pure Python, any Python version: the default.
* :class:`~telcoflow.rules.isolated.IsolatedDurableBackend` - what ``backend="durable"`` gives:
  durable-rules (the optional extra ``telcoflow[durable]``, Python < 3.13) run in a supervised
  child process, so that a crash of its C core cannot take the host process down; the child
  is restarted and its state rebuilt by replaying the observations it held.
* :class:`DurableBackend` - durable-rules in this process (what the isolated child runs; use
  it directly only where a crash may take the process down). It is wrapped so that users never
  meet its limits: one ruleset per stateful rule and shard (far below 512 rules per ruleset
  and 64 matches per event), at most :data:`DurableBackend.MAX_SESSIONS` live sessions per
  ruleset (sessions of keys idle longer than the window are deleted, then a new shard is
  opened), the session of a key is deleted when its rule fires, ``MessageNotHandled`` is
  absorbed, keys never become ``sid`` directly (they are mapped), and one private host is
  shared by all engines in the process (durable-rules supports only one).

Semantics (identical on both backends; events must arrive in time order per key):

* ``count``: fires when ``count`` matching events of one key fall within ``within`` (first to
  last); those events are then consumed.
* ``sequence``: fires when events matching step 1, step 2, ... arrive in that order, the last
  within ``within`` of the first; the events are consumed.
* ``total``: sums ``total`` over matching events (within ``within`` when given) and fires when
  the sum reaches ``reach`` (evaluated on the event that makes it); the sum then restarts.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from telcoflow._optional import requires
from telcoflow.errors import (
    StatefulError,  # re-exported: defined in errors.py
    )
from telcoflow.money import to_decimal
from telcoflow.rules.functions import to_datetime
from telcoflow.rules.pack import RulePack, StatefulRule
from telcoflow.rules.trace import Fired

__all__ = [
    "DURABLE_MISSING",
    "DurableBackend",
    "Observation",
    "PythonBackend",
    "RuleSpec",
    "StatefulBackend",
    "StatefulEngine",
    "StatefulError",
    "durable_available",
    "durable_missing_reason",
    "make_backend",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)




@dataclass(frozen=True, slots=True)
class Observation:
    """What the engine hands a backend for one event and one stateful rule."""

    key: str
    t: int  # milliseconds since the epoch
    steps: tuple[int, ...]
    value: Decimal | None = None
    reach: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a correlation backend needs of a stateful rule (plain data: it can be pickled)."""

    id: str
    pattern: str
    window_ms: int | None
    n_steps: int

    @classmethod
    def of(cls, rule: StatefulRule | RuleSpec) -> RuleSpec:
        """The spec of ``rule`` (a spec is returned as it is)."""
        if isinstance(rule, RuleSpec):
            return rule
        return cls(rule.id, rule.pattern, _window_ms(rule), len(rule.steps))


class StatefulBackend(Protocol):
    """A correlation backend: given observations, say when a rule fires."""

    name: str

    def prepare(self, rules: Sequence[StatefulRule]) -> None:
        """Set up state for ``rules`` (called once, before any observation)."""

    def observe(self, rule: StatefulRule, obs: Observation) -> bool:
        """Record ``obs`` for ``rule``; return True when the rule fires now."""

    def live_keys(self) -> int:
        """How many keys currently hold state (for monitoring and tests)."""

    def close(self) -> None:
        """Release all state."""


def _window_ms(rule: StatefulRule) -> int | None:
    if rule.window is None:
        return None
    return rule.window // timedelta(milliseconds=1)


class PythonBackend:
    """Pure-Python correlation (any Python version)."""

    name = "python"

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def prepare(self, rules: Sequence[StatefulRule]) -> None:
        """Nothing to prepare: state is created per key on first use."""

    def observe(self, rule: StatefulRule, obs: Observation) -> bool:
        """Correlate ``obs`` (see the module docstring for the semantics)."""
        with self._lock:
            if rule.pattern == "count":
                return self._count(rule, obs)
            if rule.pattern == "sequence":
                return self._sequence(rule, obs)
            return self._total(rule, obs)

    def _count(self, rule: StatefulRule, obs: Observation) -> bool:
        w = _window_ms(rule)
        assert w is not None
        times: deque[int] = self._state.setdefault((rule.id, obs.key), deque())
        while times and obs.t - times[0] > w:
            times.popleft()
        times.append(obs.t)
        if len(times) >= len(rule.steps):
            del self._state[(rule.id, obs.key)]
            return True
        return False

    def _sequence(self, rule: StatefulRule, obs: Observation) -> bool:
        w = _window_ms(rule)
        assert w is not None
        n = len(rule.steps)
        lists: list[list[int]] = self._state.setdefault((rule.id, obs.key),
                                                        [[] for _ in range(n)])
        for lst in lists:
            lst[:] = [t for t in lst if obs.t - t <= w]
        fired = False
        for i in obs.steps:
            if i < n - 1:
                lists[i].append(obs.t)
                continue
            chosen: list[int] = []
            bound = obs.t
            for j in range(n - 2, -1, -1):
                cands = [k for k, t in enumerate(lists[j]) if t <= bound]
                if not cands:
                    break
                k = cands[-1]
                chosen.append(k)
                bound = lists[j][k]
            if len(chosen) == n - 1 and obs.t - bound <= w:
                for j, k in zip(range(n - 2, -1, -1), chosen, strict=True):
                    del lists[j][k]
                fired = True
                break
        if not any(lists):
            self._state.pop((rule.id, obs.key), None)
        return fired

    def _total(self, rule: StatefulRule, obs: Observation) -> bool:
        w = _window_ms(rule)
        items: deque[tuple[int, Decimal]] = self._state.setdefault((rule.id, obs.key), deque())
        if w is not None:
            while items and obs.t - items[0][0] > w:
                items.popleft()
        items.append((obs.t, obs.value or Decimal(0)))
        total = sum((v for _, v in items), Decimal(0))
        if obs.reach is not None and total >= obs.reach:
            del self._state[(rule.id, obs.key)]
            return True
        return False

    def total(self, rule_id: str, key: str) -> Decimal:
        """The running total of a ``total`` rule for ``key`` (0 when none)."""
        items = self._state.get((rule_id, key))
        return sum((v for _, v in items), Decimal(0)) if items else Decimal(0)

    def live_keys(self) -> int:
        """Keys holding state."""
        return len(self._state)

    def close(self) -> None:
        """Drop all state."""
        self._state.clear()


def _noop(c: Any) -> None:
    return None


def _init_rule() -> dict[str, Any]:
    return {"all": [{"m": {"init": 1}}], "run": _noop}  # fresh: durable-rules mutates it


DURABLE_MISSING = "durable-rules not installed (pip install telcoflow[durable])"
"""Why the durable backend cannot run here (reported by pack tests, raised by make_backend)."""


def durable_missing_reason() -> str | None:
    """None when durable-rules is installed, else why not (:data:`DURABLE_MISSING`).

    Looks the package up without importing it: its C core is loaded only by the process that
    runs it (the isolated child, or :class:`DurableBackend`).
    """
    if sys.version_info >= (3, 13):
        return "durable-rules does not support Python 3.13+ (use the python backend)"
    try:
        found = importlib.util.find_spec("durable") is not None
    except (ImportError, ValueError):
        found = False
    return None if found else DURABLE_MISSING


def durable_available() -> bool:
    """Whether durable-rules is installed here (never on Python 3.13+)."""
    return durable_missing_reason() is None


class _Shard:
    """One registered ruleset of a stateful rule definition (shared process-wide)."""

    __slots__ = ("fired", "name", "sessions")

    def __init__(self, name: str) -> None:
        self.name = name
        self.sessions: dict[str, int] = {}  # sid -> last time seen (ms)
        self.fired: set[str] = set()


class _DurableHost:
    """The one durable-rules host of the process and its ruleset pools.

    durable-rules keeps one engine per process, cannot unregister a ruleset and becomes
    unstable as rulesets pile up, so rulesets are shared: one pool of shards per distinct
    rule *definition*, reused by every backend instance (sids are unique process-wide).
    """

    _instance: Any = None
    _lock = threading.RLock()
    _counter = 0
    _pools: ClassVar[dict[str, list[_Shard]]] = {}

    @classmethod
    def get(cls) -> Any:
        with cls._lock:
            if cls._instance is None:
                with requires("durable", "the durable-rules backend"):
                    import durable.engine as engine

                class _Host(engine.Host):  # type: ignore[misc]
                    """No background dispatch threads: every action runs synchronously
                    inside post() (telcoflow uses no durable timers); the threads race
                    with post() and crash the engine."""

                    def _run(self) -> None:
                        return None

                cls._instance = _Host()
            return cls._instance

    @classmethod
    def next_id(cls) -> int:
        with cls._lock:
            cls._counter += 1
            return cls._counter

    @classmethod
    def pool(cls, signature: str) -> list[_Shard]:
        with cls._lock:
            return cls._pools.setdefault(signature, [])


def _signature(rule: RuleSpec) -> str:
    steps = "|".join(str(i) for i in range(rule.n_steps))
    return f"{rule.id}\0{rule.pattern}\0{rule.window_ms}\0{steps}"


class DurableBackend:
    """Correlation on durable-rules, kept under its limits (see the module docstring)."""

    name = "durable"
    MAX_SESSIONS = 1000
    """Live sessions per ruleset shard (durable-rules fails at 1,024)."""

    def __init__(self, max_sessions: int | None = None) -> None:
        missing = durable_missing_reason()
        if missing is not None:
            raise StatefulError(f"the durable backend cannot run: {missing}")
        try:
            from durable.engine import MessageNotHandledException
        except ImportError as exc:  # installed, but its C core does not load
            raise StatefulError(f"the durable backend cannot run: durable-rules does not "
                                f"import ({exc})") from exc

        self._not_handled: type[Exception] = MessageNotHandledException
        self._host = _DurableHost.get()
        self._max = max_sessions or self.MAX_SESSIONS
        self._shards: dict[str, list[_Shard]] = {}
        self._keys: dict[tuple[str, str], tuple[_Shard, str]] = {}
        self._lock = _DurableHost._lock

    def prepare(self, rules: Sequence[StatefulRule | RuleSpec]) -> None:
        """Attach every rule to its pool of rulesets (opened on first use)."""
        with self._lock:
            for rule in map(RuleSpec.of, rules):
                pool = _DurableHost.pool(_signature(rule))
                if not pool:
                    pool.append(self._new_shard(rule))
                self._shards[rule.id] = pool

    def _definition(self, rule: RuleSpec, shard: _Shard) -> dict[str, Any]:
        def run(c: Any) -> None:
            shard.fired.add(str(c.s.sid))

        w = rule.window_ms
        if rule.pattern == "total":
            def accumulate(c: Any) -> None:
                # state holds "t:v;t:v" (durable-rules state is JSON; amounts stay exact text)
                raw = str(c.s.tf_acc or "")
                items = [(int(a), Decimal(b)) for a, b in
                         (part.split(":") for part in raw.split(";") if part)]
                t = int(c.m.t)
                if w is not None:
                    items = [it for it in items if t - it[0] <= w]
                items.append((t, Decimal(str(c.m.v))))
                total = sum((v for _, v in items), Decimal(0))
                if total >= Decimal(str(c.m.reach)):
                    shard.fired.add(str(c.s.sid))
                    c.s.tf_acc = ""
                else:
                    c.s.tf_acc = ";".join(f"{a}:{b}" for a, b in items)

            return {"r_0": {"all": [{"m": {"r": rule.id}}], "run": accumulate},
                    "r_1": _init_rule()}
        assert w is not None
        conds: list[dict[str, Any]] = []
        for j in range(rule.n_steps):
            terms: list[dict[str, Any]] = [{"r": rule.id}]
            if rule.pattern == "sequence":
                terms.append({"step": j})
            if j > 0:
                # later in arrival order (n) and not earlier in time (t)
                terms.append({"$gt": {"n": {f"e{j - 1}": "n"}}})
                terms.append({"$gte": {"t": {f"e{j - 1}": "t"}}})
                terms.append({"$lte": {"t": {"$add": {"$l": {"e0": "t"}, "$r": w}}}})
            conds.append({f"e{j}": {"$and": terms} if len(terms) > 1 else terms[0]})
        return {"r_0": {"all": conds, "run": run}, "r_1": _init_rule()}

    def _new_shard(self, rule: RuleSpec) -> _Shard:
        shard = _Shard(f"telcoflow-{rule.id}-{_DurableHost.next_id()}")
        self._host.register_rulesets({shard.name: self._definition(rule, shard)})
        return shard

    def _delete(self, shard: _Shard, sid: str) -> None:
        self._host.delete_state(shard.name, sid)
        shard.sessions.pop(sid, None)

    def _session(self, rule: RuleSpec, key: str, t: int) -> tuple[_Shard, str]:
        found = self._keys.get((rule.id, key))
        w = rule.window_ms
        if found is not None:
            shard, sid = found
            if w is not None and t - shard.sessions.get(sid, t) > w:
                # idle longer than the window: its events can never match again
                self._host.delete_state(shard.name, sid)
                self._init(shard, sid)
            return found
        shards = self._shards[rule.id]
        free = next((s for s in shards if len(s.sessions) < self._max), None)
        if free is None and w is not None:
            for (rid, k), (s, old_sid) in list(self._keys.items()):
                if rid == rule.id and t - s.sessions.get(old_sid, t) > w:
                    self._delete(s, old_sid)
                    del self._keys[(rid, k)]
            free = next((s for s in shards if len(s.sessions) < self._max), None)
        if free is None:
            free = self._new_shard(rule)
            shards.append(free)
        sid = f"s{_DurableHost.next_id()}"
        free.sessions[sid] = t
        self._keys[(rule.id, key)] = (free, sid)
        self._init(free, sid)
        return free, sid

    def _init(self, shard: _Shard, sid: str) -> None:
        # durable-rules crashes (segfault) when deleting a session on which no action ever
        # ran: run a no-op action on every new session so that it can be deleted later.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._host.post(shard.name, {"sid": sid, "init": 1})

    def observe(self, rule: StatefulRule | RuleSpec, obs: Observation) -> bool:
        """Post the observation to the rule's ruleset shard; True when it fired."""
        rule = RuleSpec.of(rule)
        with self._lock:
            shard, sid = self._session(rule, obs.key, obs.t)
            shard.sessions[sid] = obs.t
            steps = obs.steps if rule.pattern == "sequence" else (0,)
            for step in steps:
                n = _DurableHost.next_id()  # arrival order; also makes every message unique
                msg: dict[str, Any] = {"sid": sid, "id": f"m{n}", "n": n, "r": rule.id,
                                       "t": obs.t}
                if rule.pattern == "sequence":
                    msg["step"] = step
                if rule.pattern == "total":
                    msg["v"] = str(obs.value or Decimal(0))
                    msg["reach"] = str(obs.reach)
                try:
                    with warnings.catch_warnings():
                        # durable-rules calls datetime.utcfromtimestamp (deprecated in 3.12)
                        warnings.simplefilter("ignore", DeprecationWarning)
                        self._host.post(shard.name, msg)
                except self._not_handled:
                    pass
                except Exception as exc:
                    raise StatefulError(f"stateful rule {rule.id!r}: the durable backend "
                                        f"failed for key {obs.key!r}: {exc!r}") from exc
                if sid in shard.fired:
                    shard.fired.discard(sid)
                    self._delete(shard, sid)  # finished: free the session
                    self._keys.pop((rule.id, obs.key), None)
                    return True
            return False

    def live_keys(self) -> int:
        """Keys of this backend holding a live durable session."""
        return len(self._keys)

    def shard_count(self, rule_id: str) -> int:
        """Ruleset shards open for ``rule_id`` (shared by every backend instance)."""
        return len(self._shards.get(rule_id, ()))

    def close(self) -> None:
        """Delete this backend's sessions (durable-rules cannot unregister rulesets)."""
        with self._lock:
            for shard, sid in self._keys.values():
                self._delete(shard, sid)
            self._keys.clear()


def make_backend(backend: str | StatefulBackend = "python") -> StatefulBackend:
    """``"python"`` (the default; ``"auto"`` is the same), or ``"durable"``: durable-rules in a
    supervised child process (:class:`~telcoflow.rules.isolated.IsolatedDurableBackend`).

    A durable backend that is not installed raises :class:`StatefulError` saying so (never a
    silent fallback to python).
    """
    if not isinstance(backend, str):
        return backend
    if backend in ("python", "auto"):
        return PythonBackend()
    if backend == "durable":
        missing = durable_missing_reason()
        if missing is not None:
            raise StatefulError(f"stateful backend 'durable' requested: {missing}")
        from telcoflow.rules.isolated import IsolatedDurableBackend

        return IsolatedDurableBackend()
    raise StatefulError(f"unknown stateful backend {backend!r} (expected python, durable)")


def _millis(value: Any) -> int:
    dt = to_datetime(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


class StatefulEngine:
    """Runs the stateful rules of a pack over a stream of events.

    ``process(context)`` returns the rules that fired on this event, in pack order.
    """

    def __init__(self, pack_or_rules: RulePack | Sequence[StatefulRule],
                 backend: str | StatefulBackend = "python") -> None:
        rules = pack_or_rules.stateful if isinstance(pack_or_rules, RulePack) \
            else tuple(pack_or_rules)
        self.rules: tuple[StatefulRule, ...] = tuple(rules)
        self.backend = make_backend(backend)
        self.backend.prepare(self.rules)
        self._compiled: list[tuple[StatefulRule, Callable[[Mapping[str, Any]], Any],
                                   Callable[[Mapping[str, Any]], Any],
                                   tuple[Callable[[Mapping[str, Any]], Any], ...]]] = [
            (r, r.key.fn, r.time.fn, tuple(s.fn for s in r.steps)) for r in self.rules]

    def process(self, context: Mapping[str, Any]) -> list[Fired]:
        """Feed one event (its context); return what fired."""
        fired: list[Fired] = []
        for rule, key_fn, time_fn, step_fns in self._compiled:
            if rule.pattern == "sequence":
                steps = tuple(i for i, fn in enumerate(step_fns) if fn(context))
            else:
                steps = (0,) if step_fns[0](context) else ()
            if not steps:
                continue
            key = key_fn(context)
            if key is None:
                raise StatefulError(f"stateful rule {rule.id!r}: key `{rule.key.source}` is "
                                    "None for this event")
            try:
                t = _millis(time_fn(context))
            except (TypeError, ValueError) as exc:
                raise StatefulError(f"stateful rule {rule.id!r}: time `{rule.time.source}`: "
                                    f"{exc}") from exc
            value = reach = None
            if rule.pattern == "total":
                assert rule.total is not None
                assert rule.reach is not None
                value = to_decimal(rule.total.fn(context), field=rule.total.source)
                reach = to_decimal(rule.reach.fn(context), field=rule.reach.source)
            if self.backend.observe(rule, Observation(str(key), t, steps, value, reach)):
                ctx = dict(context)
                ctx["key"] = key
                fired.append(Fired(rule.id, key, dict(rule.then(ctx)), time_fn(context)))
        return fired

    def close(self) -> None:
        """Release the backend's state."""
        self.backend.close()
