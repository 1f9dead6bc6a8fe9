"""The asyncio façades (telcoflow.aio) over real stores: SQLite files, PostgreSQL (issue #18).

Run with plain ``asyncio.run``: no pytest plugin."""

from __future__ import annotations

import asyncio
import os
import textwrap
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.aio import AsyncJourneyRuntime, AsyncOnlineCharging, AsyncRealtimeBilling
from telcoflow.billing.charging import OnlineCharging
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.errors import ClosedError, EventRejectedError
from telcoflow.events import UsageEvent
from telcoflow.journeys.definition import parse_journey
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.ledger import LedgerStore
from telcoflow.rating.rater import TableRater, UnitTariff
from telcoflow.stores.sqlite import SQLiteLedgerStore
from telcoflow.stores.sqlite.journeys import SQLiteJourneyStore

NOV = datetime(2026, 11, 10, 12, 0)
D = Decimal


def _profiles() -> DictProfiles:
    post = AccountProfile("post", credit_limit=D("200.00"))
    return DictProfiles([post], [SubscriberProfile("s1", post, "plus")])


def _rater() -> TableRater:
    return TableRater({("data", "*", ""): UnitTariff("data", D("0.05"))})


def _usage(eid: str, mb: int = 10, sub: str = "s1") -> UsageEvent:
    return UsageEvent(eid, sub, "post", "data", NOV, D(mb))


def _billing(store: LedgerStore, *, before_rate: Callable[..., None] | None = None,
             ) -> RealtimeBilling:
    graph = default_graph(_profiles(), _rater())
    if before_rate is not None:
        graph.before("rate", before_rate)
    return RealtimeBilling(graph=graph, store=store)


def _data_total(store: LedgerStore) -> Decimal:
    return sum((ln.amount for ln in store.lines() if ln.item_type == "data"), D(0))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteLedgerStore]:
    store = SQLiteLedgerStore(tmp_path / "ledger.db")
    yield store
    store.close()


def test_concurrent_ingest_runs_in_order_on_one_worker_thread_and_loses_nothing(
        sqlite_store: SQLiteLedgerStore) -> None:
    threads: set[int] = set()
    billing = _billing(sqlite_store,
                       before_rate=lambda **_: threads.add(threading.get_ident()))

    async def main() -> list[int]:
        async with AsyncRealtimeBilling(billing) as ingest:
            batches = [[_usage(f"b{b}-e{i}") for i in range(20)] for b in range(25)]
            results = await asyncio.gather(*(ingest.process(b) for b in batches))
        return [r.accepted for r in results]

    accepted = asyncio.run(main())
    assert accepted == [20] * 25
    assert len(threads) == 1
    assert threads != {threading.get_ident()}  # never the event loop's thread
    # 500 events x 10 MB x 0.05 = 250.00
    assert _data_total(sqlite_store) == D("250.00")


def test_the_event_loop_keeps_running_while_a_batch_works(
        sqlite_store: SQLiteLedgerStore) -> None:
    release = threading.Event()
    billing = _billing(sqlite_store, before_rate=lambda **_: release.wait(5))

    async def main() -> tuple[int, int]:
        async with AsyncRealtimeBilling(billing) as ingest:
            work = asyncio.ensure_future(ingest.process([_usage("e1")]))
            ticks = 0
            for _ in range(10):  # the loop runs other tasks while the batch is held
                await asyncio.sleep(0.01)
                ticks += 1
            assert not work.done()
            release.set()
            result = await work
        return ticks, result.accepted

    assert asyncio.run(main()) == (10, 1)


def test_a_cancelled_ingest_is_applied_exactly_once_and_a_replay_is_a_duplicate(
        sqlite_store: SQLiteLedgerStore) -> None:
    started, release = threading.Event(), threading.Event()

    def hold(**_: Any) -> None:
        started.set()
        release.wait(5)

    billing = _billing(sqlite_store, before_rate=hold)
    events = [_usage("c1"), _usage("c2")]

    async def main() -> tuple[int, int]:
        async with AsyncRealtimeBilling(billing) as ingest:
            running = asyncio.ensure_future(ingest.process(events))
            queued = asyncio.ensure_future(ingest.process([_usage("c3")]))  # behind it
            await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
            running.cancel()
            queued.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            with pytest.raises(asyncio.CancelledError):
                await queued
            release.set()
            replay = await ingest.process(events)  # runs after both cancelled calls
        return replay.accepted, replay.duplicates

    assert asyncio.run(main()) == (2, 2)  # both already applied: duplicates, no-ops
    # c1, c2 and the queued c3 were each applied once: 3 x 10 MB x 0.05
    assert _data_total(sqlite_store) == D("1.50")


def test_errors_pass_through_unchanged_and_a_closed_facade_refuses(
        sqlite_store: SQLiteLedgerStore) -> None:
    online = OnlineCharging(sqlite_store, _profiles(), _rater())

    async def main() -> None:
        charging = AsyncOnlineCharging(online)
        with pytest.raises(EventRejectedError) as info:
            await charging.charge_event(_usage("x1", sub="ghost"))
        assert info.value.reason == "unknown-subscriber"
        with pytest.raises(EventRejectedError, match="must be a finite Decimal"):
            await charging.initial("sess", "s1", 10, D("NaN"), NOV)
        grant = await charging.initial("sess", "s1", 10, D(100), NOV)
        assert grant.units == D(100)
        commit = await charging.terminate("sess", 10, D(40), NOV)
        assert commit.amount == D("2.00")  # 40 MB x 0.05
        await charging.aclose()
        assert charging.closed
        with pytest.raises(ClosedError, match="AsyncOnlineCharging is closed"):
            await charging.charge_event(_usage("x2"))
        await charging.aclose()  # twice is fine

    asyncio.run(main())
    assert _data_total(sqlite_store) == D("2.00")


def test_close_waits_for_every_call_already_made(sqlite_store: SQLiteLedgerStore) -> None:
    billing = _billing(sqlite_store)

    async def main() -> None:
        ingest = AsyncRealtimeBilling(billing)
        pending = [asyncio.ensure_future(ingest.process([_usage(f"w{i}")])) for i in range(30)]
        await asyncio.sleep(0)  # every call is made
        await ingest.aclose()
        assert all(p.done() for p in pending)

    asyncio.run(main())
    assert _data_total(sqlite_store) == D("15.00")  # 30 x 0.50


JOURNEY = textwrap.dedent("""
    kind: journey
    id: count
    version: 1
    context: {n: 0}
    triggers: {tick: {}}
    states:
      on_: {initial: true, on: {tick: {target: on_, increment: [n]}}}
    """)


def test_journey_sends_through_a_sqlite_store_opened_on_the_worker_thread(
        tmp_path: Path) -> None:
    path = tmp_path / "journeys.db"

    def open_runtime() -> JourneyRuntime:  # the SQLite connection belongs to the worker
        return JourneyRuntime(SQLiteJourneyStore(path), [parse_journey(JOURNEY, "count.yaml")])

    async def main() -> tuple[int, int]:
        async with await AsyncJourneyRuntime.create(open_runtime) as journeys:
            await journeys.create_instance("count", channel="web", instance_id="i1")
            results = await asyncio.gather(*(journeys.dispatch("i1", "tick", channel="web")
                                             for _ in range(40)))
            inst = journeys.wrapped.start("count", channel="web", instance_id="mem")
            sent = await journeys.send(inst, "tick", channel="web")
            assert sent.moved
            loaded = await journeys._call(journeys.wrapped.store.load, "i1")
        return sum(r.moved for r in results), loaded.context["n"]

    assert asyncio.run(main()) == (40, 40)  # serialized: no version conflict, none lost


@pytest.mark.services
def test_online_charging_on_postgresql_in_its_own_database(
        require_service: Callable[[str], None]) -> None:
    require_service("postgres")
    import psycopg

    from telcoflow.stores.postgres import PostgresLedgerStore

    admin = os.environ.get("TELCOFLOW_TEST_POSTGRES_ADMIN_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"telcoflow_aio_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        async def main() -> tuple[list[bool], int]:
            async with await AsyncOnlineCharging.create(
                    lambda: OnlineCharging(PostgresLedgerStore(url), _profiles(),
                                           _rater())) as charging:
                charges = await asyncio.gather(*(charging.charge_event(_usage(f"p{i}"))
                                                 for i in range(12)))
                again = await charging.charge_event(_usage("p0"))
            charging.wrapped.store.close()  # type: ignore[attr-defined]  # the worker stopped
            return [c.granted for c in charges], int(again.reason == "already charged")

        granted, duplicate = asyncio.run(main())
        assert granted == [True] * 12
        assert duplicate == 1
        store = PostgresLedgerStore(url)
        try:
            assert _data_total(store) == D("6.00")  # 12 x 10 MB x 0.05, the replay not again
        finally:
            store.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
