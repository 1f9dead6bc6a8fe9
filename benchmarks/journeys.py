"""Journey runtime benchmark: transitions/s in memory and persisted to SQLite, idle bytes.

    python benchmarks/journeys.py [--quick]

Workload: the shipped ``prepaid-online-purchase`` journey (nested + parallel states, guards,
host actions, deadlines, history records). N instances are started, then every instance is
moved through the same nine events, round-robin over all instances (so all N are in flight
at once; none reaches a final state):

    choose_offer, select_number (action), payment_failed (counter), retry_payment (guard),
    kyc_passed, payment_succeeded (action, parallel state completes), choose_delivery
    (two guarded alternatives, payload), sim_shipped, sim_delivered

Figures (JSON lines; the last one is ``journeys_memory``):

* ``journeys_memory``: transitions/s of ``JourneyRuntime.send`` on instances held in memory
  (dispatch-table engine; guards evaluated, actions run, history recorded).
* ``journeys_sqlite``: transitions/s persisted to a SQLite file, in batches
  (``SQLiteJourneyStore.save_many``: version-checked UPDATE + appended records per batch).
* ``journey_idle_bytes``: bytes per idle (just started) instance, measured with tracemalloc
  over a sample of instances.

Baseline in the same run: one ``transitions.Machine`` per instance (the same flat states and
transitions, guards as conditions), on a smaller count: creation rate, bytes per instance and
transitions/s.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from transitions import Machine  # noqa: E402

from telcoflow.journeys.definition import load_journey  # noqa: E402
from telcoflow.journeys.runtime import JourneyRuntime  # noqa: E402
from telcoflow.stores.memory import MemoryJourneyStore  # noqa: E402
from telcoflow.stores.sqlite import SQLiteJourneyStore  # noqa: E402
from telcoflow.testing.journeys import noop_actions  # noqa: E402

JOURNEY = load_journey(ROOT / "journeys" / "prepaid_online_purchase.yaml")
STEPS: list[tuple[str, dict[str, Any] | None]] = [
    ("choose_offer", {"offer_id": "prepaid-s"}),
    ("select_number", {"msisdn": "+4915112345678"}),
    ("payment_failed", None),
    ("retry_payment", None),
    ("kyc_passed", None),
    ("payment_succeeded", None),
    ("choose_delivery", {"esim": False}),
    ("sim_shipped", None),
    ("sim_delivered", None),
]
CHANNELS = ("app", "web", "store", "call_centre")


def emit(name: str, value: float, unit: str, baseline_name: str, baseline: float,
         **extra: Any) -> None:
    print(json.dumps({"benchmark": name, "value": round(value, 1), "unit": unit,
                      "baseline_name": baseline_name, "baseline": round(baseline, 1), **extra}))


def run_memory(n: int) -> tuple[float, float, list[Any]]:
    runtime = JourneyRuntime(MemoryJourneyStore(), [JOURNEY], actions=noop_actions(JOURNEY))
    now = 1_800_000_000.0
    t0 = time.perf_counter()
    instances = [runtime.start("prepaid-online-purchase", channel=CHANNELS[i % 4],
                               instance_id=f"p-{i}", now=now) for i in range(n)]
    created = time.perf_counter() - t0
    send = runtime.send
    count = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    for k, (trigger, payload) in enumerate(STEPS):
        channel = CHANNELS[k % 4]
        at = now + 60.0 * (k + 1)
        for inst in instances:
            send(inst, trigger, payload, channel=channel, now=at)
        count += len(instances)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    assert all(i.state == "activation" for i in instances[:: max(1, n // 100)])
    print(f"memory: {n:,} instances started in {created:.2f}s "
          f"({n / created:,.0f}/s); {count:,} transitions in {elapsed:.2f}s wall, "
          f"{cpu:.2f}s CPU ({count / cpu:,.0f}/s by CPU time)")
    return count / elapsed, count / cpu, n / created


def run_sqlite(n: int, batch: int) -> tuple[float, float]:
    runtime = JourneyRuntime(MemoryJourneyStore(), [JOURNEY], actions=noop_actions(JOURNEY))
    now = 1_800_000_000.0
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteJourneyStore(os.path.join(tmp, "journeys.db"))
        instances = [runtime.start("prepaid-online-purchase", channel="app",
                                   instance_id=f"s-{i}", now=now) for i in range(n)]
        for start in range(0, n, batch):
            store.create_many(instances[start:start + batch])
        count = 0
        c0 = time.process_time()
        t0 = time.perf_counter()
        for k, (trigger, payload) in enumerate(STEPS):
            at = now + 60.0 * (k + 1)
            for start in range(0, n, batch):
                chunk = instances[start:start + batch]
                pending = []
                for inst in chunk:
                    expected = inst.version
                    runtime.send(inst, trigger, payload, channel="web", now=at)
                    pending.append((inst, expected))
                store.save_many(pending)
                count += len(chunk)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - c0
        check = store.load("s-0")
        assert check.state == "activation"
        assert len(list(check.records())) == len(STEPS) + 1
        store.close()
    print(f"sqlite: {n:,} instances, {count:,} transitions persisted in batches of {batch} "
          f"in {elapsed:.2f}s wall, {cpu:.2f}s CPU ({count / cpu:,.0f}/s by CPU time)")
    return count / elapsed, count / cpu


def idle_bytes(n: int) -> float:
    runtime = JourneyRuntime(MemoryJourneyStore(), [JOURNEY], actions=noop_actions(JOURNEY))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    # distinct start times, as from a real clock (each instance owns its float objects)
    instances = [runtime.start("prepaid-online-purchase", channel="app",
                               instance_id=f"prepaid-{i:09d}", now=1_800_000_000.0 + i)
                 for i in range(n)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per = (after - before) / n
    print(f"idle instance: {per:,.0f} bytes each (tracemalloc over {n:,} started instances, "
          "including their id string and the list holding them)")
    del instances
    return per


class _Model:
    pass


def baseline(n: int) -> tuple[float, float, float]:
    """One transitions.Machine per instance over the same flat states and transitions."""
    logging.getLogger("transitions").setLevel(logging.ERROR)
    guards = JOURNEY.guards
    specs = []
    for t in JOURNEY.transitions:
        conditions = []
        if t.guard is not None:
            fn = guards[t.guard]
            conditions.append(lambda ev, fn=fn: bool(fn({**ev.model.context, **ev.kwargs})))
        specs.append({"trigger": t.trigger, "source": t.source, "dest": t.target,
                      "conditions": conditions})
    states = list(JOURNEY.configurations)

    def make() -> Any:
        m = _Model()
        m.context = dict(JOURNEY.context)  # type: ignore[attr-defined]
        m.history = []  # type: ignore[attr-defined]
        Machine(model=m, states=states, transitions=specs, initial=JOURNEY.initial,
                auto_transitions=False, send_event=True)
        return m

    t0 = time.perf_counter()
    models = [make() for _ in range(n)]
    created = time.perf_counter() - t0
    sample = 200
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [make() for _ in range(sample)]
    per = (tracemalloc.get_traced_memory()[0] - before) / sample
    tracemalloc.stop()
    del kept
    count = 0
    t0 = time.perf_counter()
    for k, (trigger, payload) in enumerate(STEPS):
        for m in models:
            getattr(m, trigger)(**(payload or {}))
            m.history.append((k, trigger, m.state))  # type: ignore[attr-defined]
            if payload:
                m.context.update(payload)  # type: ignore[attr-defined]
        count += n
    elapsed = time.perf_counter() - t0
    assert models[0].state == "activation"  # type: ignore[attr-defined]
    print(f"baseline (transitions.Machine per instance, {n:,} instances): created "
          f"{n / created:,.0f}/s, {per:,.0f} bytes each (tracemalloc over {sample}), "
          f"{count / elapsed:,.0f} transitions/s")
    return n / created, per, count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 instances, not 1,000,000")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    n_sqlite = 20_000 if args.quick else 100_000
    n_idle = 20_000 if args.quick else 100_000
    n_base = 2_000 if args.quick else 20_000
    print(f"journey {JOURNEY.id} v{JOURNEY.version}: {len(JOURNEY.configurations)} "
          f"configurations, {len(JOURNEY.transitions)} compiled transitions")
    rate, cpu_rate, created_rate = run_memory(n)
    gc.collect()
    sqlite_rate, sqlite_cpu_rate = run_sqlite(n_sqlite, 1000)
    per = idle_bytes(n_idle)
    gc.collect()
    base_created, base_bytes, base_rate = baseline(n_base)
    print(f"in memory: {rate:,.0f} transitions/s (target >= 500,000); sqlite: "
          f"{sqlite_rate:,.0f}/s (target >= 50,000); idle: {per:,.0f} B (target <= 1024); "
          f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    emit("journeys_sqlite", sqlite_rate, "transitions/s",
         "transitions.Machine per instance (in memory, not persisted)", base_rate,
         instances=n_sqlite, batch=1000, cpu_time_rate=round(sqlite_cpu_rate))
    emit("journey_idle_bytes", per, "bytes/instance (tracemalloc)",
         "transitions.Machine per instance (tracemalloc)", base_bytes, instances=n_idle)
    emit("journeys_memory", rate, "transitions/s", "transitions.Machine per instance",
         base_rate, instances=n, cpu_time_rate=round(cpu_rate),
         created_per_s=round(created_rate), baseline_created_per_s=round(base_created),
         baseline_instances=n_base)


if __name__ == "__main__":
    main()
