"""Crash test: kill -9 a process streaming events into SQLite, restart, compare the ledger.

A child process streams a seeded synthetic month (1,000,000 events; ``--quick``: 100,000)
through the full default graph into a SQLite ledger, one durable transaction per batch. The
parent kills it with SIGKILL at random points (10 times; ``--quick``: 3): when the child has
claimed a random number of events, a random 0-300 ms later (inside a later batch or its
commit), then restarts it. A host step of the graph writes the stream offset in each batch's
transaction; a restart resumes 5,000 events before it, so every restart also replays
committed events (which must be no-ops). After the last run completes, the SQLite ledger
lines and claim count must equal -- exactly -- those of the same stream processed once,
without crashes, into the memory store.

The last line is the JSON result: ``value`` is the number of ledger lines that differ (0
means exact), ``baseline`` the number of ledger lines expected.

Usage: python benchmarks/crash_test.py [--quick] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from itertools import islice
from pathlib import Path

from telcoflow.billing.batch import Batch
from telcoflow.billing.realtime import BatchResult, RealtimeBilling, default_graph
from telcoflow.demo.generator import generate_events, generate_population
from telcoflow.ledger import LedgerStore, LineKey
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteLedgerStore

ACCOUNTS = 2000
OFFSET = "offset|crash-test"
OVERLAP = 5000


class Checkpoint:
    """A host step: the stream offset, written in the same transaction as the batch."""

    name = "checkpoint"
    needs = ("emitted",)
    provides = ("checkpointed",)

    def __call__(self, batch: Batch) -> None:
        # recorded in the last claim's effects, so the batch stays journaled and the
        # store's journal replay is exercised by the kills too
        effects = batch.items[-1].effects if batch.items else None
        batch.tx.add(effects, OFFSET, Decimal(batch.submitted))


def stream(store: LedgerStore, events: int, seed: int, *, report: bool = False) -> None:
    """Stream the month into ``store``, resuming a little before the committed offset.

    Resuming ``OVERLAP`` events early replays some committed events on every restart, so
    the exactly-once claims are exercised, not only the offset.
    """
    pop = generate_population(ACCOUNTS, seed=seed)
    graph = default_graph(pop.profiles, pop.rater, fees=pop.fees).add(Checkpoint())
    billing = RealtimeBilling(store, graph)
    offset = int(store.get_counters([OFFSET]).get(OFFSET, Decimal(0)))
    start = max(0, offset - OVERLAP)
    claimed = [store.claim_count()]

    def progress(result: BatchResult) -> None:
        # events newly claimed by this batch (replayed ones are no-ops)
        claimed[0] += result.accepted - result.duplicates
        print(f"claimed {claimed[0]}", flush=True)

    source = islice(generate_events(pop, events=events, seed=seed + 1), start, None)
    billing.stream(source, batch_size=1000, on_batch=progress if report else None)


def child(db: str, events: int, seed: int) -> None:
    store = SQLiteLedgerStore(db)
    stream(store, events, seed, report=True)
    store.close()


def state(store: LedgerStore) -> tuple[dict[LineKey, tuple[Decimal, Decimal]], int]:
    lines: dict[LineKey, tuple[Decimal, Decimal]] = {
        (ln.account, ln.subscriber, ln.item_type, ln.period, ln.currency):
            (ln.amount, ln.quantity)
        for ln in store.lines()
    }
    return lines, store.claim_count()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--child", nargs=3, metavar=("DB", "EVENTS", "SEED"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return 0
    events, kills = (100_000, 3) if args.quick else (1_000_000, 10)
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    expected_store = MemoryLedgerStore()
    stream(expected_store, events, args.seed)
    expected, expected_claims = state(expected_store)
    clean_seconds = time.perf_counter() - t0
    print(f"expected ledger: {len(expected)} lines, {expected_claims} claims "
          f"(memory store, no crash, {clean_seconds:.1f} s)")

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "crash.db")
        cmd = [sys.executable, __file__, "--child", db, str(events), str(args.seed)]
        # kill points: random numbers of claimed events; the kill lands a random 0-50 ms
        # after the child reports passing one (so inside a later batch or its commit)
        targets = sorted(rng.sample(range(1, events), kills))
        for k, target in enumerate(targets):
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            reached = 0
            for line in proc.stdout:
                reached = int(line.split()[1])
                if reached >= target:
                    time.sleep(rng.uniform(0, 0.3))
                    break
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed = "killed"
            else:
                killed = f"had already finished (exit {proc.returncode})"
            proc.stdout.close()
            proc.wait()
            store = SQLiteLedgerStore(db)
            claims = store.claim_count()
            store.close()
            print(f"run {k + 1}: {killed} after passing {reached} claimed events (target "
                  f"{target}); {claims} events claimed on disk")
        t1 = time.perf_counter()
        final = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
        print(f"final run: exit {final.returncode} in {time.perf_counter() - t1:.1f} s")
        store = SQLiteLedgerStore(db)
        got, got_claims = state(store)
        store.close()

    keys = set(expected) | set(got)
    differing = sorted(k for k in keys if expected.get(k) != got.get(k))
    for key in differing[:10]:
        print(f"  differs: {key}: expected {expected.get(key)}, got {got.get(key)}")
    exact = not differing and got_claims == expected_claims and final.returncode == 0
    total = sum((v[0] for v in got.values()), Decimal(0))
    print(f"ledger {'EQUALS' if exact else 'DIFFERS FROM'} the expected totals exactly: "
          f"{len(got)} lines, total {total}, {got_claims} claims "
          f"(expected {expected_claims})")
    print(json.dumps({"benchmark": "crash_test", "value": len(differing) +
                      abs(got_claims - expected_claims), "unit": "differing_lines",
                      "baseline_name": "expected_ledger_lines", "baseline": len(expected)}))
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
