"""The journey instance store on PostgreSQL: the scenarios the SQLite store passes."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from scaleout_helpers import PG_URL, pg_schema

from telcoflow.errors import ConcurrencyError, StoreError
from telcoflow.journeys.instance import ManualClock
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.journeys.store import JourneyStore
from telcoflow.stores.postgres import PostgresJourneyStore

pytestmark = pytest.mark.services

_FILE = Path(__file__).resolve().parents[1] / "journeys" / "test_journeys_runtime.py"
_spec = importlib.util.spec_from_file_location("_journeys_runtime_suite", _FILE)
assert _spec is not None
assert _spec.loader is not None
_suite = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _suite
_spec.loader.exec_module(_suite)
load, Recorder = _suite.load, _suite.Recorder


@pytest.fixture
def store(require_service: Callable[[str], None]) -> Iterator[PostgresJourneyStore]:
    with pg_schema(require_service) as schema:
        s = PostgresJourneyStore(PG_URL, schema=schema)
        yield s
        s.close()


@pytest.fixture
def runtime(store: PostgresJourneyStore) -> JourneyRuntime:
    return JourneyRuntime(store, [load()], actions=Recorder().registry,
                          clock=ManualClock(1_000.0))


def test_satisfies_the_protocol(store: PostgresJourneyStore) -> None:
    assert isinstance(store, JourneyStore)


def test_two_workers_cannot_both_move_one_instance(store: PostgresJourneyStore,
                                                   runtime: JourneyRuntime) -> None:
    runtime.create("pay", channel="app", instance_id="c1")
    first, second = store.load("c1"), store.load("c1")
    runtime.send(first, "start_payment", {"amount": 1}, channel="app")
    runtime.send(second, "start_payment", {"amount": 1}, channel="web")
    store.save(first, 0)
    with pytest.raises(ConcurrencyError, match="expected version 0, it is at version 1"):
        store.save(second, 0)
    loaded = store.load("c1")
    assert loaded.version == 1
    assert [r.channel for r in loaded.records()] == ["app", "app"]


def test_round_trip_with_decimals_history_and_memory(store: PostgresJourneyStore,
                                                     runtime: JourneyRuntime) -> None:
    runtime.create("pay", channel="app", instance_id="s1", context={"price": Decimal("9.99")})
    runtime.dispatch("s1", "start_payment", {"amount": 1}, channel="web")
    runtime.dispatch("s1", "failed", channel="web")
    runtime.dispatch("s1", "interrupt", channel="call_centre")
    inst = store.load("s1")
    assert inst.state == "hold"
    assert inst.context == {"attempts": 1, "amount": 1, "price": Decimal("9.99")}
    assert inst.memory == {"paying": "paying.failed"}
    assert inst.version == 3
    assert [r.trigger for r in inst.records()] == ["@start", "start_payment", "failed",
                                                   "interrupt"]
    assert [i.id for i in store.instances("pay")] == ["s1"]
    assert [i.id for i in store.instances("other")] == []
    assert len(store) == 1
    with pytest.raises(ConcurrencyError):
        store.create(inst)
    with pytest.raises(StoreError, match="no journey instance 'nope'"):
        store.load("nope")


def test_due_and_batch_is_all_or_nothing(store: PostgresJourneyStore,
                                         runtime: JourneyRuntime) -> None:
    a = runtime.create("pay", channel="app", instance_id="a")
    b = runtime.create("pay", channel="app", instance_id="b")
    runtime.send(a, "start_payment", {"amount": 1}, channel="app")
    runtime.send(b, "start_payment", {"amount": 1}, channel="app")
    with pytest.raises(ConcurrencyError):
        store.save_many([(a, 0), (b, 7)])  # b's expected version is wrong: nothing saved
    assert store.load("a").version == 0
    with pytest.raises(ConcurrencyError, match="twice"):
        store.save_many([(a, 0), (a, 0)])
    store.save_many([(a, 0), (b, 0)])
    # started at t=1000, paying times out after 15 min: due at 1900
    assert store.due(1899.0) == []
    assert sorted(store.due(1900.0)) == ["a", "b"]
    runtime.clock.advance(900)  # type: ignore[attr-defined]
    assert {r.state for r in runtime.tick()} == {"abandoned"}
    assert store.due(10_000.0) == []


def test_create_many_is_all_or_nothing(store: PostgresJourneyStore,
                                       runtime: JourneyRuntime) -> None:
    a, b = (runtime.start("pay", channel="app", instance_id=i) for i in ("a", "b"))
    store.create_many([a, b])
    c = runtime.start("pay", channel="app", instance_id="c")
    with pytest.raises(ConcurrencyError, match="already exist"):
        store.create_many([c, a])  # a exists: c is not created either
    assert sorted(i.id for i in store.instances()) == ["a", "b"]


def test_unstorable_context_is_a_store_error(store: PostgresJourneyStore,
                                             runtime: JourneyRuntime) -> None:
    inst = runtime.start("pay", channel="app", instance_id="x", context={"bad": object()})
    with pytest.raises(StoreError, match="cannot store"):
        store.create(inst)

