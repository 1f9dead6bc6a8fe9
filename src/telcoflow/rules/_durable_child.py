"""The child process that runs durable-rules for :mod:`telcoflow.rules.isolated`.

Started by the supervisor as ``python -c "from telcoflow.rules._durable_child import main;
main()"``. It reads requests from stdin and
writes replies on a private copy of stdout (the real stdout is pointed at stderr, so nothing
durable-rules prints can corrupt a reply). Each frame is a 4-byte big-endian length and a
pickle; the only peer is the parent that started it. When stdin closes (the parent stopped it,
or died) the child exits at once, without running interpreter teardown (durable-rules' C core
is not asked to free anything).

Requests are tuples ``(op, backend_id, *args)``; replies are ``("ok", value)`` or
``("err", message)`` for a Python exception (a crash gives no reply: the pipe closes).
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from typing import IO, Any

__all__ = ["HEADER", "read_frame", "write_frame"]

HEADER = struct.Struct(">I")
"""The length prefix of a frame."""


def write_frame(out: IO[bytes], obj: object) -> None:
    """Write one length-prefixed pickle frame and flush it."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(HEADER.pack(len(data)) + data)
    out.flush()


def read_frame(inp: IO[bytes]) -> Any:
    """Read one frame; None at end of input."""
    head = inp.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    data = inp.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


def _serve(inp: IO[bytes], out: IO[bytes]) -> None:
    from telcoflow.rules.stateful import DurableBackend, Observation

    backends: dict[int, DurableBackend] = {}
    while True:
        request = read_frame(inp)
        if request is None:
            return
        op, bid, *args = request
        try:
            value: object = None
            if op == "prepare":
                specs, max_sessions = args
                if bid not in backends:  # prepared again (a hot reload): its state stays
                    backends[bid] = DurableBackend(max_sessions)
                backends[bid].prepare(specs)
            elif op == "observe":
                spec, (key, t, steps, v, reach) = args
                value = backends[bid].observe(spec, Observation(key, t, steps, v, reach))
            elif op == "live_keys":
                value = backends[bid].live_keys()
            elif op == "shard_count":
                value = backends[bid].shard_count(args[0])
            elif op == "close":
                backends[bid].close()
            elif op == "pid":
                value = os.getpid()
            else:
                raise ValueError(f"unknown request {op!r}")
            reply: tuple[str, object] = ("ok", value)
        except Exception as exc:  # reported to the parent, which raises StatefulError
            reply = ("err", str(exc) or type(exc).__name__)
        write_frame(out, reply)


def main() -> None:
    """Serve requests until stdin closes, then leave at once (see the module docstring)."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        _serve(sys.stdin.buffer, out)
    finally:
        sys.stderr.flush()
        os._exit(0)


