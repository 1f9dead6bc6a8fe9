"""Real-time billing throughput and latency: the full default graph on one core.

Measures, on one synthetic 5G month (seeded) of a population holding offerings of the shipped
catalog (``examples/catalog``, see :mod:`telcoflow.demo.generator`), rated everywhere -- graph and
plain loop alike -- by :class:`~telcoflow.rating.catalog_rater.CatalogRater` over that catalog:

- ``realtime_sqlite``: events/s through the full graph into SQLite (WAL, synchronous=FULL,
  one durable commit per batch of 1,000);
- ``realtime_p99_ms``: p99 latency of a single event through the full graph (memory store);
- ``realtime_memory``: events/s through the full graph into the memory store (printed last).

The graph runs opt in to the garbage-collector pause (``RealtimeBilling(pause_gc=True)``, off
by default in the library; :mod:`telcoflow.billing.gc_pause`), as a process dedicated to
billing would, and say so in their output; ``realtime_gc_pause`` compares the memory run
with the collector left on (the library's default).

Throughput and latency are measured twice: in wall-clock time and in the CPU time of the
benchmark's thread (``time.thread_time``). The machine these run on is often shared, so
wall-clock figures include time the process spent waiting for a core. The JSON values are:
memory throughput and single-event p99 in CPU time (the work done on one core), SQLite
throughput in wall-clock time (it must include the fsync waits of the durable commits, which
use no CPU). Both measures of each are printed. The memory run and the plain loop are
repeated three times (fresh stores) and the best run is kept, as ``timeit`` does.

The baseline of each is measured in the same run: a plain Python loop doing the same rating
(the catalog rater's tariff, increments, allowances, price) and accumulation (ledger lines,
tax, spend) without the graph, exactly-once claims, dead letters, splits, discounts or rated
records. The plain loop asks the tariff for every event's units and amount; the graph's
``rate`` step remembers them per tariff (:class:`telcoflow.billing.steps.Rate`). What the
catalog rater costs per usage event (its tariff choice, and choice + units + amount) is
printed too.

Usage: python benchmarks/realtime.py [--quick] [--accounts N] [--events N]
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.demo.generator import Population, generate_events, generate_population
from telcoflow.events import Event, UsageEvent
from telcoflow.periods import PeriodResolver
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteLedgerStore

ZERO = Decimal(0)
BATCH = 1000
RUNS = 3
#: the graph runs opt in to the collector pause, as a dedicated billing process would
PAUSE_GC = True


def plain_loop(pop: Population, events: list[Event]) -> float:
    """The baseline: rating and accumulation in one plain loop; returns CPU seconds."""
    profiles, rater = pop.profiles, pop.rater
    periods = PeriodResolver()
    ledger: dict[tuple[str, str, str, str, str], Decimal] = {}
    counters: dict[str, Decimal] = {}
    t0 = time.thread_time()
    for e in events:
        if type(e) is not UsageEvent:
            continue
        sub = profiles.subscriber(e.subscriber)
        assert sub is not None
        acct = sub.account
        period = periods(e.start, acct.bill_cycle_day)
        tariff = rater.tariff(e, sub)
        units = left = tariff.charged_units(e.quantity)
        for alw in sub.allowances:
            if alw.covers(e.usage_type, e.zone):
                key = f"alw|{sub.id}|{alw.name}|{period}"
                free = alw.units - counters.get(key, ZERO)
                if free > 0:
                    take = min(free, left)
                    counters[key] = counters.get(key, ZERO) + take
                    left -= take
        amount = tariff.amount(left)
        tax = amount * acct.tax_rate(tariff.item_type)
        k = (acct.id, sub.id, tariff.item_type, period, acct.currency)
        ledger[k] = ledger.get(k, ZERO) + amount
        k = (acct.id, sub.id, "tax", period, acct.currency)
        ledger[k] = ledger.get(k, ZERO) + tax
        skey = f"bal|{acct.id}" if acct.prepaid else f"spend|{acct.id}|{period}"
        counters[skey] = counters.get(skey, ZERO) + (amount + tax) * (-1 if acct.prepaid else 1)
        del units
    return time.thread_time() - t0


def rater_cost(pop: Population, events: list[Event]) -> tuple[float, float]:
    """CPU microseconds per usage event of ``rater.tariff`` alone, and of tariff + units +
    amount (best of :data:`RUNS`)."""
    pairs = []
    for e in events:
        if type(e) is UsageEvent:
            sub = pop.profiles.subscriber(e.subscriber)
            assert sub is not None
            pairs.append((e, sub))
    tariff_of = pop.rater.tariff
    lookup = rated = float("inf")
    for _ in range(RUNS):
        t0 = time.thread_time()
        for e, sub in pairs:
            tariff_of(e, sub)
        t1 = time.thread_time()
        for e, sub in pairs:
            tariff = tariff_of(e, sub)
            tariff.amount(tariff.charged_units(e.quantity))
        t2 = time.thread_time()
        lookup, rated = min(lookup, t1 - t0), min(rated, t2 - t1)
    n = max(len(pairs), 1)
    return lookup / n * 1e6, rated / n * 1e6


def graph_run(pop: Population, events: list[Event], store: object,
              batch: int, *, period_counters: bool = True,
              pause_gc: bool = PAUSE_GC) -> tuple[float, float]:
    """Stream ``events`` through the default graph into ``store``: (CPU s, wall s)."""
    billing = RealtimeBilling(store, default_graph(pop.profiles, pop.rater, fees=pop.fees,
                                                  period_counters=period_counters),
                              pause_gc=pause_gc)  # type: ignore[arg-type]
    w0, c0 = time.perf_counter(), time.thread_time()
    totals = billing.stream(events, batch_size=batch)
    cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
    assert totals.rejected == 0, totals.reasons
    return cpu, wall


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 (got {text!r})")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--accounts", type=_positive, help="population size (default 5,000; "
                        "--quick: 500)")
    parser.add_argument("--events", type=_positive, help="events in the stream (default "
                        "300,000; --quick: 50,000)")
    args = parser.parse_args()
    n_accounts, n_events = (500, 50_000) if args.quick else (5_000, 300_000)
    if args.accounts is not None:
        n_accounts = args.accounts
    if args.events is not None:
        n_events = args.events
    pop = generate_population(n_accounts, seed=1)
    events = list(generate_events(pop, events=n_events, seed=2))
    usage = sum(1 for e in events if type(e) is UsageEvent)
    print(f"population: {n_accounts} accounts, {len(pop.subscribers)} subscribers; "
          f"{len(events)} events ({usage} usage)")
    held = sorted({s.offer for s in pop.subscribers})
    print(f"rated by CatalogRater over the shipped catalog {pop.catalog.id}: "
          f"{len(held)} offerings held ({', '.join(held)})")
    print("the graph runs below opt in to the garbage-collector pause (pause_gc=True; the "
          "library's default is off) unless said otherwise")
    gc.collect()
    gc.freeze()

    base = min(plain_loop(pop, events) for _ in range(RUNS))
    base_eps = len(events) / base
    print(f"baseline plain loop (rating + accumulation only): {base_eps:,.0f} events/s (CPU)")
    lookup_us, rated_us = rater_cost(pop, events)
    print(f"CatalogRater per usage event: tariff choice {lookup_us:.3f} us, choice + units + "
          f"amount {rated_us:.3f} us (CPU)")

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteLedgerStore(Path(tmp) / "bench.db", synchronous="FULL")
        sql_cpu, sql_wall = graph_run(pop, events, store, BATCH)
        store.close()
    sql_eps = len(events) / sql_cpu
    print(f"full graph into SQLite (WAL, synchronous=FULL, batches of {BATCH}): "
          f"{sql_eps:,.0f} events/s (CPU), {len(events) / sql_wall:,.0f} events/s (wall)")

    # single-event latency through the full graph (memory store), and the plain loop's
    billing = RealtimeBilling(MemoryLedgerStore(),
                              default_graph(pop.profiles, pop.rater, fees=pop.fees),
                              pause_gc=PAUSE_GC)
    sample = events[: min(len(events), 20_000)]
    lat: list[float] = []
    wall_lat: list[float] = []
    base_lat: list[float] = []
    for e in sample:
        w0, c0 = time.perf_counter(), time.thread_time()
        billing.process([e])
        lat.append(time.thread_time() - c0)
        wall_lat.append(time.perf_counter() - w0)
    for e in sample:
        base_lat.append(plain_loop(pop, [e]))
    lat_p99, base_p99 = p99(lat) * 1000, p99(base_lat) * 1000
    print(f"single-event latency through the full graph: p50 "
          f"{sorted(lat)[len(lat) // 2] * 1000:.3f} ms, p99 {lat_p99:.3f} ms (CPU); "
          f"wall p50 {sorted(wall_lat)[len(wall_lat) // 2] * 1000:.3f} ms, "
          f"p99 {p99(wall_lat) * 1000:.3f} ms (plain loop p99 {base_p99:.4f} ms CPU)")

    # what the period counters cost: the same population, rater and graph without them,
    # runs interleaved so both see the same machine
    # (and what the collector pause gains: the same graph with the collector left on)
    runs = []
    plain_runs = []
    free_runs = []
    for _ in range(RUNS):
        plain_runs.append(graph_run(pop, events, MemoryLedgerStore(), BATCH,
                                    period_counters=False))
        runs.append(graph_run(pop, events, MemoryLedgerStore(), BATCH))
        free_runs.append(graph_run(pop, events, MemoryLedgerStore(), BATCH, pause_gc=False))
    plain_eps = len(events) / min(plain_runs)[0]
    counted = sum(1 for e in events if type(e) is UsageEvent
                  and pop.rater.tariff(e, pop.profiles.subscriber(e.subscriber)).cumulative)
    print(f"period counters: {counted} of {usage} usage events are period-priced; the graph "
          f"without counters, {RUNS} runs: "
          + ", ".join(f"{len(events) / c:,.0f}" for c, _ in plain_runs)
          + f" events/s (CPU); best {plain_eps:,.0f}; with counters best "
          f"{len(events) / min(runs)[0]:,.0f}: the counters cost "
          f"{(plain_eps / (len(events) / min(runs)[0]) - 1) * 100:.1f} %")
    free_eps = len(events) / min(free_runs)[0]
    paused_eps = len(events) / min(runs)[0]
    print(f"garbage-collector pause (pause_gc=True, opt-in; the library's default is off): "
          f"memory store best {paused_eps:,.0f} events/s (CPU) paused, {free_eps:,.0f} "
          f"collector left on ("
          + ", ".join(f"{len(events) / c:,.0f}" for c, _ in free_runs)
          + f"): the pause gains {(paused_eps / free_eps - 1) * 100:.1f} %")
    mem_cpu, mem_wall = min(runs)
    mem_eps = len(events) / mem_cpu
    print(f"full graph into the memory store (batches of {BATCH}), {RUNS} runs: "
          + ", ".join(f"{len(events) / c:,.0f}" for c, _ in runs)
          + f" events/s (CPU); best {mem_eps:,.0f} events/s (CPU), "
          f"{len(events) / mem_wall:,.0f} events/s (wall); "
          f"{mem_eps / base_eps:.2f}x the plain loop")

    lines = [
        {"benchmark": "realtime_sqlite", "value": round(len(events) / sql_wall),
         "unit": "events/s (wall, with fsync)",
         "baseline_name": "plain_loop_rating_accumulation", "baseline": round(base_eps)},
        {"benchmark": "realtime_p99_ms", "value": round(lat_p99, 4), "unit": "ms (CPU)",
         "baseline_name": "plain_loop_p99_ms", "baseline": round(base_p99, 4)},
        {"benchmark": "realtime_period_counters", "value": round(mem_eps),
         "unit": "events/s (CPU, memory store, with period counters)",
         "baseline_name": "same_graph_without_period_counters", "baseline": round(plain_eps)},
        {"benchmark": "realtime_memory", "value": round(mem_eps), "unit": "events/s (CPU)",
         "baseline_name": "plain_loop_rating_accumulation", "baseline": round(base_eps)},
        {"benchmark": "realtime_gc_pause", "value": round(paused_eps),
         "unit": "events/s (CPU, memory store, pause_gc=True)",
         "baseline_name": "same_graph_collector_left_on", "baseline": round(free_eps)},
    ]
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
