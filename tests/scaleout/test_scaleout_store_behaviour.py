"""The shared ledger-store behaviour suite, run again against PostgreSQL.

Every ``test_*`` function of ``tests/stores/test_stores_behaviour.py`` that takes the
``store`` fixture is imported here and runs with this module's ``store`` fixture (a
PostgreSQL store in a private schema), so the backends cannot drift apart. PostgreSQL-only
behaviour (several writers, claims taken by another writer, reconnects, migrations) follows.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal as Dec
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scaleout_helpers import PG_URL, pg_schema, unique

from telcoflow.errors import ConcurrencyError, StoreError
from telcoflow.ledger import ChangeSet, Claim, CounterMoves, DeadLetter, LedgerStore
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.postgres import MIGRATIONS, PostgresLedgerStore, split_postgres_url

pytestmark = pytest.mark.services

_SUITE = Path(__file__).resolve().parents[1] / "stores" / "test_stores_behaviour.py"
_spec = importlib.util.spec_from_file_location("_stores_behaviour_suite", _SUITE)
assert _spec is not None
assert _spec.loader is not None
_suite = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _suite
_spec.loader.exec_module(_suite)

SHARED = sorted(
    name for name, fn in vars(_suite).items()
    if name.startswith("test_") and callable(fn)
    and "store" in inspect.signature(fn).parameters
)
for _name in SHARED:  # the very same functions, collected here with our ``store`` fixture
    globals()[f"{_name}__postgres"] = getattr(_suite, _name)

KEY = _suite.KEY


@pytest.fixture
def schema(require_service: Callable[[str], None]) -> Iterator[str]:
    with pg_schema(require_service) as name:
        yield name


@pytest.fixture
def store(schema: str) -> Iterator[LedgerStore]:
    s = PostgresLedgerStore(PG_URL, schema=schema)
    yield s
    s.close()


def test_the_shared_suite_is_imported() -> None:
    # the suite has at least these cases; a renamed case would silently stop running here
    assert {"test_ledger_deltas_add_up_exactly", "test_claims_round_trip_with_effects",
            "test_dead_letters_are_kept_once_per_id_and_payload"} <= set(SHARED)


def test_two_writers_add_deltas_without_losing_any(schema: str) -> None:
    # 2 threads x 50 batches x 0.01 = 1.00 exactly; counters the same
    stores = [PostgresLedgerStore(PG_URL, schema=schema) for _ in range(2)]

    def write(s: PostgresLedgerStore) -> None:
        for _ in range(50):
            s.apply(ChangeSet(ledger={KEY: [Dec("0.01"), Dec(1)]}, counters={"spend|a": Dec(2)}))

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (line,) = stores[0].lines()
    assert line.amount == Dec("1.00")
    assert line.quantity == Dec(100)
    assert stores[1].get_counters(["spend|a"]) == {"spend|a": Dec(200)}
    for s in stores:
        s.close()


def test_a_claim_taken_by_another_writer_rolls_the_batch_back(schema: str) -> None:
    a = PostgresLedgerStore(PG_URL, schema=schema)
    b = PostgresLedgerStore(PG_URL, schema=schema)
    assert a.get_claims(["ev-1"]) == {}  # both see ev-1 as new...
    assert b.get_claims(["ev-1"]) == {}
    a.apply(ChangeSet(ledger={KEY: [Dec("1.50"), Dec(1)]}, claims={"ev-1": Claim("ev-1", "fp")}))
    with pytest.raises(ConcurrencyError, match="ev-1"):  # ...but only one may charge it
        b.apply(ChangeSet(ledger={KEY: [Dec("1.50"), Dec(1)]},
                          claims={"ev-1": Claim("ev-1", "fp")}))
    assert [ln.amount for ln in a.lines()] == [Dec("1.50")]  # charged once
    assert a.claim_count() == 1
    a.close()
    b.close()


def test_a_claim_read_before_is_replaced_as_rerating_does(store: LedgerStore) -> None:
    store.apply(ChangeSet(claims={"ev-1": Claim("ev-1", "fp1")}))
    assert list(store.get_claims(["ev-1"])) == ["ev-1"]
    store.apply(ChangeSet(claims={"ev-1": Claim("ev-1", "fp2", [CounterMoves(("k", Dec(1)))])}))
    assert store.get_claims(["ev-1"])["ev-1"].fingerprint == "fp2"


def test_warm_reads_owned_counters_and_flags_in_one_go(store: PostgresLedgerStore) -> None:
    store.apply(ChangeSet(counters={"bal|acc-1": Dec("9.90"), "alw|sub-1|data|p": Dec(5),
                                    "bal|acc-2": Dec(1)}, flags={"ntf|acc-1|p|80"}))
    store.warm(["acc-1", "sub-1"])
    assert store.get_counters(["bal|acc-1", "alw|sub-1|data|p", "bal|acc-2", "bal|acc-9"]) == {
        "bal|acc-1": Dec("9.90"), "alw|sub-1|data|p": Dec(5), "bal|acc-2": Dec(1)}
    assert store.get_flags(["ntf|acc-1|p|80", "ntf|acc-1|p|100"]) == {"ntf|acc-1|p|80"}


def test_processed_lists_claimed_and_dead_lettered_ids(store: PostgresLedgerStore) -> None:
    store.apply(ChangeSet(claims={"ok": Claim("ok", "f")},
                          dead_letters=[DeadLetter("bad", "invalid", "`quantity` < 0")]))
    assert store.processed(["ok", "bad", "new"]) == {"ok", "bad"}


def test_failed_batch_leaves_nothing(store: PostgresLedgerStore) -> None:
    bad = ChangeSet(ledger={KEY: [Dec(1), Dec(1)]},
                    claims={"e": Claim("e", "fp", [])},
                    dead_letters=[DeadLetter("x", "r", "m", "f", "nul\x00byte")])
    with pytest.raises(StoreError, match="commit of a batch failed"):
        store.apply(bad)  # PostgreSQL text refuses NUL: the dead-letter insert fails last
    assert store.lines() == []
    assert store.claim_count() == 0


def test_reconnects_after_the_backend_is_terminated(schema: str) -> None:
    app = unique("tf-ledger")  # only this test's connection is cut
    own = PostgresLedgerStore(PG_URL, schema=schema, application_name=app)
    own.apply(ChangeSet(ledger={KEY: [Dec("2.00"), Dec(0)]}))
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        (killed,) = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM "
                                  "pg_stat_activity WHERE application_name = %s",
                                  (app,)).fetchone() or (0,)
    assert killed == 1
    with pytest.raises(StoreError, match="failed"):
        own.apply(ChangeSet(ledger={KEY: [Dec("1.00"), Dec(0)]}))
    own.apply(ChangeSet(ledger={KEY: [Dec("1.00"), Dec(0)]}))  # reconnected
    # 2.00 + (failed, not applied) + 1.00 = 3.00
    assert [ln.amount for ln in own.lines()] == [Dec("3.00")]
    own.close()


def test_migrations_are_recorded_once(schema: str) -> None:
    PostgresLedgerStore(PG_URL, schema=schema).close()
    PostgresLedgerStore(PG_URL, schema=schema).close()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute(f'SELECT component, version FROM "{schema}".telcoflow_migrations '
                            "ORDER BY version").fetchall()
    expected = [(m.component, m.version) for m in MIGRATIONS if m.component == "ledger"]
    assert rows == expected


def test_schema_comes_from_the_url() -> None:
    url, schema = split_postgres_url("postgresql://u@h:5432/db?schema=s1&sslmode=disable")
    assert (url, schema) == ("postgresql://u@h:5432/db?sslmode=disable", "s1")
    with pytest.raises(StoreError, match="postgresql://"):
        split_postgres_url("mysql://h/db")


_KEYS = st.sampled_from([("a1", "s1", "data", "2026-11", "EUR"), ("a1", "s2", "tax", "2026-11",
                                                                   "EUR"),
                         ("a2", "s3", "voice", "2026-12", "EUR")])
_AMOUNTS = st.decimals(min_value=-1000, max_value=1000, places=4, allow_nan=False,
                       allow_infinity=False)
_CHANGES = st.builds(
    lambda ledger, counters, flags, dead: ChangeSet(
        ledger={k: [a, q] for k, (a, q) in ledger.items()}, counters=counters,
        flags=flags, dead_letters=[DeadLetter(e, "invalid", "m", f) for e, f in dead]),
    st.dictionaries(_KEYS, st.tuples(_AMOUNTS, _AMOUNTS), max_size=3),
    st.dictionaries(st.sampled_from(["bal|a1", "spend|a2|p", "alw|s1|x|p"]), _AMOUNTS,
                    max_size=3),
    st.sets(st.sampled_from(["f1", "f2", "ntf|a1|p|80"]), max_size=2),
    st.lists(st.tuples(st.sampled_from(["e1", "e2"]), st.sampled_from(["fa", "fb"])),
             max_size=2),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(_CHANGES, min_size=1, max_size=5))
def test_postgres_never_drifts_from_memory(store: PostgresLedgerStore,
                                           batches: list[ChangeSet]) -> None:
    # the same change sets, applied to both, leave the same ledger, counters, flags and
    # dead letters (exact decimals; dead letters once per id and payload, oldest first)
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'TRUNCATE "{store.schema}".ledger, "{store.schema}".counters, '
                      f'"{store.schema}".flags, "{store.schema}".dead_letters')
    memory = MemoryLedgerStore()
    for changes in batches:
        memory.apply(changes)
        store.apply(changes)
    assert store.lines() == memory.lines()
    keys = ["bal|a1", "spend|a2|p", "alw|s1|x|p"]
    assert store.get_counters(keys) == memory.get_counters(keys)
    assert store.get_flags(["f1", "f2", "ntf|a1|p|80"]) == memory.get_flags(
        ["f1", "f2", "ntf|a1|p|80"])
    assert [(d.event_id, d.fingerprint) for d in store.dead_letters()] == [
        (d.event_id, d.fingerprint) for d in memory.dead_letters()]
