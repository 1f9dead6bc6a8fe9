"""Stores and the journey runtime shared by the threads of a thread pool (issue #18, item 3).

Every store shipped (memory, SQLite, PostgreSQL) and :class:`JourneyRuntime` may be shared by
threads: these tests hammer one instance from a :class:`ThreadPoolExecutor` and check that no
update is lost -- ledger totals and counters add up to what every thread wrote, journey
versions count every transition that was taken. The PostgreSQL tests use their own schema.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from telcoflow.errors import ConcurrencyError
from telcoflow.journeys.definition import parse_journey
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.journeys.store import JourneyStore
from telcoflow.ledger import ChangeSet, Claim, CounterMoves, LedgerStore, Posting
from telcoflow.stores.memory import MemoryJourneyStore, MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteJourneyStore, SQLiteLedgerStore
from telcoflow.testing.journeys import noop_actions

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
THREADS = 8
PER_THREAD = 25
KEY = ("A1", "S1", "data", "2026-11", "EUR")
COUNTER = "spend|A1|2026-11"
AMOUNT = Decimal("1.25")


@contextmanager
def pg_schema(require: Callable[[str], None]) -> Iterator[str]:
    """A fresh PostgreSQL schema of this test only (dropped afterwards)."""
    import psycopg

    require("postgres")
    name = f"tft_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _change_set(thread: int, n: int, journaled: bool) -> ChangeSet:
    """One event of ``thread``: 1.25 EUR and 3 MB on the shared line, +1 on the counter."""
    event_id = f"ev-{thread}-{n}"
    effects: list[Posting | CounterMoves] = [Posting((KEY, AMOUNT, Decimal(3)))]
    if journaled:
        effects.append(CounterMoves((COUNTER, Decimal(1))))
    return ChangeSet(ledger={KEY: [AMOUNT, Decimal(3)]}, counters={COUNTER: Decimal(1)},
                     claims={event_id: Claim(event_id, f"fp-{event_id}", effects)},
                     journaled=journaled)


def _hammer_ledger(store: LedgerStore, journaled: bool = True) -> None:
    def work(thread: int) -> None:
        for n in range(PER_THREAD):
            store.get_claims([f"ev-{thread}-{n}"])
            store.get_counters([COUNTER])
            store.apply(_change_set(thread, n, journaled))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(THREADS)))


def _check_ledger(store: LedgerStore) -> None:
    events = THREADS * PER_THREAD  # 200 events of 1.25 EUR and 3 MB each
    (line,) = store.lines()
    assert (line.amount, line.quantity) == (Decimal("250.00"), Decimal(600))
    assert store.get_counters([COUNTER]) == {COUNTER: Decimal(200)}
    assert store.claim_count() == events


def test_memory_ledger_store_loses_no_update_across_threads() -> None:
    store = MemoryLedgerStore()
    _hammer_ledger(store)
    _check_ledger(store)


@pytest.mark.parametrize("journaled", [True, False])
def test_sqlite_ledger_store_loses_no_update_across_threads(tmp_path: Path,
                                                            journaled: bool) -> None:
    path = tmp_path / "ledger.db"
    store = SQLiteLedgerStore(path, synchronous="NORMAL", checkpoint_every=7)
    _hammer_ledger(store, journaled)
    _check_ledger(store)
    store.close()
    reopened = SQLiteLedgerStore(path)  # what was committed is what the caches said
    _check_ledger(reopened)
    reopened.close()


@pytest.mark.services
def test_postgres_ledger_store_loses_no_update_across_threads(
        require_service: Callable[[str], None]) -> None:
    from telcoflow.stores.postgres import PostgresLedgerStore

    with pg_schema(require_service) as schema:
        store = PostgresLedgerStore(PG_URL, schema=schema)
        try:
            _hammer_ledger(store)
            _check_ledger(store)
        finally:
            store.close()


# ------------------------------------------------------------------------------ journeys

COUNTING = parse_journey(textwrap.dedent("""\
    kind: journey
    id: counting
    triggers: {tick: {}, stop: {}}
    states:
      open: {initial: true, on: {tick: open, stop: done}}
      done: {final: true}
"""), "counting.yaml")
INSTANCES = 10
TICKS = 20  # per thread: twice to each of the 10 instances


def _hammer_runtime(store: JourneyStore) -> tuple[JourneyRuntime, int]:
    """Threads dispatch ticks to a few shared instances through one runtime, retrying when
    another thread moved the instance first; return the runtime and the ticks taken."""
    runtime = JourneyRuntime(store, [COUNTING], actions=noop_actions(COUNTING))
    for i in range(INSTANCES):
        runtime.create("counting", channel="app", instance_id=f"i{i}")

    def work(thread: int) -> int:
        taken = 0
        for n in range(TICKS):
            target = f"i{(thread + n) % INSTANCES}"
            while True:
                try:
                    moved = runtime.dispatch(target, "tick", channel="app").moved
                except ConcurrencyError:
                    continue  # another thread saved first: load the new version, again
                taken += moved
                break
        return taken

    with ThreadPoolExecutor(THREADS) as pool:
        return runtime, sum(pool.map(work, range(THREADS)))


def _check_journeys(store: JourneyStore, taken: int) -> None:
    assert taken == THREADS * TICKS == 160  # every tick moved its instance once
    instances = sorted(store.instances(), key=lambda i: i.id)
    assert len(instances) == INSTANCES
    # each of the 8 threads sends 2 ticks to each instance: version 16 everywhere
    assert [i.version for i in instances] == [16] * INSTANCES
    # the start record and one record per tick, none lost, none twice
    assert [len(i.history) // 4 for i in instances] == [1 + 16] * INSTANCES


def test_runtime_with_a_memory_store_loses_no_transition_across_threads() -> None:
    store = MemoryJourneyStore()
    _, taken = _hammer_runtime(store)
    _check_journeys(store, taken)


@pytest.mark.parametrize("in_file", [True, False])
def test_runtime_with_a_sqlite_store_loses_no_transition_across_threads(
        tmp_path: Path, in_file: bool) -> None:
    store = SQLiteJourneyStore(tmp_path / "journeys.db" if in_file else ":memory:")
    runtime, taken = _hammer_runtime(store)
    _check_journeys(store, taken)
    assert runtime.store.load("i3").version == 16
    store.close()


def test_transitions_engine_runtime_is_shared_across_threads() -> None:
    store = MemoryJourneyStore()
    runtime = JourneyRuntime(store, [COUNTING], actions=noop_actions(COUNTING),
                             engine="transitions")
    for i in range(INSTANCES):
        runtime.create("counting", channel="app", instance_id=f"i{i}")

    def work(thread: int) -> None:
        for i in range(INSTANCES):  # each thread moves its own private copies
            inst = store.load(f"i{i}")
            for _ in range(PER_THREAD):
                assert runtime.send(inst, "tick", channel="app").state == "open"
            assert inst.version == PER_THREAD

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(THREADS)))


@pytest.mark.services
def test_runtime_with_a_postgres_store_loses_no_transition_across_threads(
        require_service: Callable[[str], None]) -> None:
    from telcoflow.stores.postgres import PostgresJourneyStore

    with pg_schema(require_service) as schema:
        store = PostgresJourneyStore(PG_URL, schema=schema)
        try:
            _, taken = _hammer_runtime(store)
            _check_journeys(store, taken)
        finally:
            store.close()
