"""Scale-out throughput: events/s with 1 and 2 worker processes (Redis Streams -> PostgreSQL).

Each run publishes the same synthetic 5G month to the Redis Streams bus (8 partitions by
account), then starts ``telcoflow worker`` processes (the full default graph, batches of
500, one PostgreSQL transaction per batch). The clock starts once every worker holds its
share of the partitions (events claimed before that are left out of the count) and stops
when the last event is claimed in the ledger: the rate is the workers' steady state, without
the producer or the start-up.

The baseline, ``sqlite_embedded``, is the same month through the embedded defaults in one
process: published to the in-process bus first, then consumed by a worker writing the
SQLite ledger (WAL, synchronous=FULL). Every run's ledger is checked equal to the
baseline's.

The machine has 2 cores: a second worker competes with the first, with PostgreSQL, Redis and
the producer for them.

Usage: python benchmarks/workers_postgres.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from telcoflow.billing.realtime import default_graph
from telcoflow.bus import MemoryBus, Message, billing_message
from telcoflow.bus.redis_streams import RedisStreamBus
from telcoflow.demo.generator import Population, generate_events, generate_population
from telcoflow.ledger import LedgerLine
from telcoflow.stores.postgres import PostgresLedgerStore
from telcoflow.stores.sqlite import SQLiteLedgerStore
from telcoflow.worker import Worker, WorkerApp

PG_URL = os.environ.get("TELCOFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TELCOFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SRC = Path(__file__).resolve().parents[1] / "src"
BATCH = 500
PARTITIONS = 8


def embedded(pop: Population, messages: list[Message]) -> tuple[float, list[LedgerLine]]:
    """Seconds for the embedded defaults (in-process bus, SQLite) and the ledger."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteLedgerStore(Path(tmp) / "ledger.db", synchronous="FULL")
        bus = MemoryBus(PARTITIONS, max_backlog=len(messages) + 1)
        worker = Worker(store,
                        WorkerApp(default_graph(pop.profiles, pop.rater, fees=pop.fees)), bus,
                        name="embedded", batch_size=BATCH, poll_timeout=0.01)
        bus.publish(messages)
        t0 = time.perf_counter()
        while worker.handled < len(messages):
            worker.step()
        seconds = time.perf_counter() - t0
        lines = store.lines()
        store.close()
    return seconds, lines


def distributed(workers: int, accounts: int, seed: int,
                messages: list[Message]) -> tuple[float, list[LedgerLine]]:
    """Seconds for ``workers`` worker processes on Redis Streams and PostgreSQL."""
    run = f"tfbench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = f"{PG_URL}?schema={run}"
    store = PostgresLedgerStore(url)
    bus = RedisStreamBus(REDIS_URL, prefix=run, partitions=PARTITIONS,
                         max_backlog=len(messages) + 1)
    env = dict(os.environ, TELCOFLOW_DEMO_ACCOUNTS=str(accounts), TELCOFLOW_DEMO_SEED=str(seed),
               PYTHONPATH=str(SRC))
    bus.publish(messages)
    procs = [subprocess.Popen(
        [sys.executable, "-m", "telcoflow", "worker", "--ledger-url", url, "--bus-url", REDIS_URL,
         "--prefix", run, "--partitions", str(PARTITIONS), "--name", f"w{i}", "--batch-size",
         str(BATCH), "--log-level", "ERROR"], env=env) for i in range(workers)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every worker up and the partitions shared out
            leases = [bus.redis.get(f"{run}:lease:workers:{p}") for p in range(PARTITIONS)]
            owners = {v for v in leases if v}
            if None not in leases and len(owners) == workers:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the workers did not start in 60 s")
        t0 = time.perf_counter()
        before = store.claim_count()
        while store.claim_count() < len(messages):
            time.sleep(0.02)
        seconds = time.perf_counter() - t0
        lines = store.lines()
        print(f"  ({workers} worker(s): {before} events claimed before all held partitions; "
              f"{len(messages) - before} timed)")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
        store.close()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{run}" CASCADE')
        bus.purge()
        bus.close()
    return seconds * len(messages) / max(len(messages) - before, 1), lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    accounts, n_events, seed = (500, 20_000, 7) if args.quick else (2_000, 100_000, 7)
    pop = generate_population(accounts, seed=seed)
    messages = [billing_message(e) for e in generate_events(pop, events=n_events, seed=seed)]
    print(f"population: {accounts} accounts; {len(messages)} events; batches of {BATCH}; "
          f"{PARTITIONS} partitions")

    base_s, expected = embedded(pop, messages)
    base = len(messages) / base_s
    print(f"embedded (in-process bus, SQLite WAL synchronous=FULL, 1 process): "
          f"{base:,.0f} events/s")
    results = {}
    for workers in (1, 2):
        seconds, lines = distributed(workers, accounts, seed, messages)
        if lines != expected:
            raise SystemExit(f"{workers} worker(s): the PostgreSQL ledger differs from the "
                             "embedded run")
        results[workers] = len(messages) / seconds
        print(f"{workers} worker process(es) (Redis Streams -> PostgreSQL): "
              f"{results[workers]:,.0f} events/s (ledger equal to the embedded run)")
    print(f"1 worker: {results[1]:,.0f} events/s")
    print(json.dumps({"benchmark": "workers_postgres", "value": round(results[2]),
                      "unit": "events/s", "baseline_name": "sqlite_embedded",
                      "baseline": round(base)}))


if __name__ == "__main__":
    main()
