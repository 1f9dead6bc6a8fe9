"""Benchmark: what isolating durable-rules in a child process costs (issue 14, item 6).

The stateful rules of ``rules/topups`` (count, total, sequence) over a synthetic stream of
top-ups, slice usage and payments for 2,000 subscribers, in time order. Three runs over the
same events, which must fire the same rules in the same order:

* ``isolated``: ``backend="durable"``, durable-rules in its supervised child process (the value);
* ``in_process``: ``DurableBackend()``, durable-rules loaded in this process (the baseline);
* ``python``: the pure-Python backend (the default), for reference.

Rates are wall-clock events/s (the child's work happens in another process, so CPU time of
this one would flatter the isolated run). Then the child is killed with SIGKILL while keys
hold state and one more event is processed: ``recovery_ms`` is the time of that event
(restart, replay of the held observations, the event itself).

Prints human-readable lines, then one JSON line:
{"benchmark": "stateful_isolation", "value": <events/s>, "unit": "events/s",
 "baseline_name": "in_process", "baseline": <events/s>, ...}
Run: python benchmarks/stateful_isolation.py [--quick]
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from telcoflow.rules.isolated import IsolatedDurableBackend  # noqa: E402
from telcoflow.rules.pack import RulePack, load_pack  # noqa: E402
from telcoflow.rules.stateful import (  # noqa: E402
    DurableBackend,
    StatefulBackend,
    StatefulEngine,
    durable_missing_reason,
)

T0 = datetime(2026, 11, 27, tzinfo=timezone.utc)


def events(n: int, subscribers: int = 2000) -> list[dict[str, Any]]:
    """``n`` events in time order, a few seconds apart."""
    rng = random.Random(14)
    out: list[dict[str, Any]] = []
    t = T0
    for _ in range(n):
        t += timedelta(seconds=rng.randint(0, 6))
        sub = f"+4670{rng.randrange(subscribers):05d}"
        kind = rng.choices(["topup", "slice-usage", "payment-failed", "payment-ok"],
                           [4, 4, 1, 1])[0]
        ev: dict[str, Any] = {"type": kind, "subscriber": sub, "time": t.isoformat()}
        if kind == "slice-usage":
            ev.update(pass_id=f"pass-{sub}", volume_mb=rng.randint(10, 400), pass_mb=1000)
        out.append({"event": ev})
    return out


def run(pack: RulePack, backend: str | StatefulBackend,
        evs: list[dict[str, Any]]) -> tuple[float, list[tuple[str, Any]], StatefulEngine]:
    engine = StatefulEngine(pack, backend)
    fired: list[tuple[str, Any]] = []
    start = time.perf_counter()
    for ev in evs:
        fired += [(f.rule, f.key) for f in engine.process(ev)]
    return len(evs) / (time.perf_counter() - start), fired, engine


def main() -> int:
    quick = "--quick" in sys.argv
    n = 5_000 if quick else 50_000
    missing = durable_missing_reason()
    if missing is not None:
        print(f"stateful_isolation: {missing}", file=sys.stderr)
        return 1
    pack = load_pack(REPO / "rules" / "topups")
    evs = events(n + 1)
    last, evs = evs[-1], evs[:-1]

    py_rate, py_fired, py_engine = run(pack, "python", evs)
    py_engine.close()
    in_rate, in_fired, in_engine = run(pack, DurableBackend(), evs)
    in_engine.close()
    iso_rate, iso_fired, iso_engine = run(pack, "durable", evs)
    if not (py_fired == in_fired == iso_fired):
        print("the backends disagree on what fired", file=sys.stderr)
        return 1

    backend = iso_engine.backend
    assert isinstance(backend, IsolatedDurableBackend)
    held = len(backend.held())
    pid = backend.supervisor.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    start = time.perf_counter()
    iso_engine.process(last)
    recovery_ms = (time.perf_counter() - start) * 1000
    crashes = backend.supervisor.crashes
    live = backend.live_keys()
    iso_engine.close()
    if crashes != 1:
        print(f"expected 1 absorbed crash, saw {crashes}", file=sys.stderr)
        return 1

    overhead_us = (1 / iso_rate - 1 / in_rate) * 1e6
    print(f"{n:,} events, {len(iso_fired):,} firings (the same on every backend)")
    print(f"python backend:           {py_rate:>10,.0f} events/s")
    print(f"durable-rules in process: {in_rate:>10,.0f} events/s")
    print(f"durable-rules isolated:   {iso_rate:>10,.0f} events/s "
          f"(+{overhead_us:,.1f} us per event, x{in_rate / iso_rate:.2f})")
    print(f"child killed holding {held:,} observations ({live:,} live keys after): "
          f"restart + replay + one event {recovery_ms:,.0f} ms")
    print(json.dumps({"benchmark": "stateful_isolation", "value": round(iso_rate),
                      "unit": "events/s", "baseline_name": "in_process",
                      "baseline": round(in_rate), "python_events_per_s": round(py_rate),
                      "overhead_us_per_event": round(overhead_us, 1), "events": n,
                      "replayed": held, "recovery_ms": round(recovery_ms, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
