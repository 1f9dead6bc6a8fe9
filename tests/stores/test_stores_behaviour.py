"""The ledger store behaviour suite, parametrized over every backend.

A new backend (PostgreSQL...) joins by adding a factory to ``BACKENDS``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal as Dec
from pathlib import Path

import pytest

from telcoflow.errors import StoreError
from telcoflow.ledger import (
    ChangeSet,
    Claim,
    CounterMoves,
    DeadLetter,
    Effect,
    LedgerStore,
    Posting,
    decode_effects,
    encode_effects,
)
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteLedgerStore

Factory = Callable[[Path], LedgerStore]
BACKENDS: dict[str, Factory] = {
    "memory": lambda tmp: MemoryLedgerStore(),
    "sqlite": lambda tmp: SQLiteLedgerStore(tmp / "ledger.db"),
}
KEY = ("acc-1", "sub-1", "data", "2026-11-01", "EUR")


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerStore]:
    s = BACKENDS[request.param](tmp_path)
    yield s
    s.close()


def test_store_satisfies_the_protocol(store: LedgerStore) -> None:
    assert isinstance(store, LedgerStore)


def test_ledger_deltas_add_up_exactly(store: LedgerStore) -> None:
    store.apply(ChangeSet(ledger={KEY: [Dec("0.10"), Dec(10)]}))
    store.apply(ChangeSet(ledger={KEY: [Dec("0.20"), Dec(20)]}))
    (line,) = store.lines()
    # 0.10 + 0.20 = 0.30 exactly (no float drift), 10 + 20 = 30 units
    assert line.amount == Dec("0.30")
    assert str(line.amount) == "0.30"
    assert line.quantity == Dec(30)


def test_lines_filter_by_account_and_period(store: LedgerStore) -> None:
    other = ("acc-2", "sub-9", "voice", "2026-12-01", "EUR")
    store.apply(ChangeSet(ledger={KEY: [Dec(1), Dec(0)], other: [Dec(2), Dec(0)]}))
    assert [ln.account for ln in store.lines(account="acc-2")] == ["acc-2"]
    assert [ln.period for ln in store.lines(period="2026-11-01")] == ["2026-11-01"]
    assert store.lines(account="acc-1", period="2026-12-01") == []


def test_counters_and_flags(store: LedgerStore) -> None:
    store.apply(ChangeSet(counters={"bal|a": Dec("10.00")}, flags={"ntf|a|80"}))
    store.apply(ChangeSet(counters={"bal|a": Dec("-7.50")}, flags={"ntf|a|80"}))
    assert store.get_counters(["bal|a", "missing"]) == {"bal|a": Dec("2.50")}
    assert store.get_flags(["ntf|a|80", "ntf|a|100"]) == {"ntf|a|80"}


def test_claims_round_trip_with_effects(store: LedgerStore) -> None:
    effects: list[Effect] = [Posting((KEY, Dec("1.25"), Dec(25))),
                             CounterMoves(("alw|s|x", Dec(3)))]
    store.apply(ChangeSet(claims={"ev-1": Claim("ev-1", "fp1", effects)}))
    claims = store.get_claims(["ev-1", "ev-2"])
    assert list(claims) == ["ev-1"]
    assert claims["ev-1"].fingerprint == "fp1"
    assert claims["ev-1"].effects == effects
    assert [type(e) for e in claims["ev-1"].effects] == [Posting, CounterMoves]
    assert store.claim_count() == 1


def test_dead_letters_are_kept_once_per_id_and_payload(store: LedgerStore) -> None:
    dead = DeadLetter("ev-9", "invalid", "`quantity` must be >= 0", "fp", "payload")
    store.apply(ChangeSet(dead_letters=[dead]))
    store.apply(ChangeSet(dead_letters=[dead]))  # a replay of the same rejected event
    assert [(d.event_id, d.reason) for d in store.dead_letters()] == [("ev-9", "invalid")]


def test_empty_change_set_changes_nothing(store: LedgerStore) -> None:
    store.apply(ChangeSet())
    assert store.lines() == []
    assert store.claim_count() == 0


def test_effects_text_encoding_round_trips() -> None:
    effects: list[Effect] = [Posting((KEY, Dec("-0.0001"), Dec(0))),
                             CounterMoves(("k", Dec("1E+2"))),
                             CounterMoves(("use|s|d|p", Dec("2.5"), "usd|s|d|p", Dec("-0.10")))]
    decoded = decode_effects(encode_effects(effects))
    assert decoded == effects
    assert [type(e) for e in decoded] == [Posting, CounterMoves, CounterMoves]
    assert decoded[0].amount == Dec("-0.0001")
    assert decoded[0].key == KEY
    assert list(decoded[2].pairs()) == [("use|s|d|p", Dec("2.5")), ("usd|s|d|p", Dec("-0.10"))]
    assert decode_effects("") == []


def test_sqlite_is_durable_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    s = SQLiteLedgerStore(path)
    s.apply(ChangeSet(ledger={KEY: [Dec("3.30"), Dec(1)]}, counters={"c": Dec(5)}, flags={"f"},
                      claims={"e": Claim("e", "fp", [])}))
    s.close()
    s2 = SQLiteLedgerStore(path)
    assert s2.lines()[0].amount == Dec("3.30")
    assert s2.get_counters(["c"]) == {"c": Dec(5)}
    assert s2.get_flags(["f"]) == {"f"}
    assert s2.claim_count() == 1
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    s2.close()


def test_sqlite_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    s = SQLiteLedgerStore(tmp_path / "f.db")
    # the claim's fingerprint cannot be bound: the insert after the ledger write fails
    bad = ChangeSet(ledger={KEY: [Dec(1), Dec(1)]},
                    claims={"e": Claim("e", object(), [])})  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="commit of a batch failed"):
        s.apply(bad)
    assert s.lines() == []  # the ledger write was rolled back with the failing insert
    s.close()
    assert SQLiteLedgerStore(tmp_path / "f.db").lines() == []


def test_sqlite_rejects_unknown_synchronous_mode(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="synchronous"):
        SQLiteLedgerStore(tmp_path / "x.db", synchronous="SOMETIMES")


def journaled_batch(i: int) -> ChangeSet:
    """A batch whose sums are exactly its claim's effects (as the graph produces)."""
    effects: list[Effect] = [Posting((KEY, Dec("0.25"), Dec(5))),
                             CounterMoves(("spend|acc-1", Dec("0.25"))),
                             CounterMoves(("use|s|d|p", Dec(5), "usd|s|d|p", Dec("0.25")))]
    return ChangeSet(ledger={KEY: [Dec("0.25"), Dec(5)]},
                     counters={"spend|acc-1": Dec("0.25"), "use|s|d|p": Dec(5),
                               "usd|s|d|p": Dec("0.25")},
                     claims={f"e{i}": Claim(f"e{i}", "fp", effects)}, journaled=True)


def test_journaled_batches_survive_a_crash_between_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    s = SQLiteLedgerStore(path, checkpoint_every=3)
    for i in range(7):  # checkpoints after batches 3 and 6; batch 7 is only journaled
        s.apply(journaled_batch(i))
    # a "crash": the first store is never closed (no final checkpoint); reopen the file
    crashed = SQLiteLedgerStore(path)
    (line,) = crashed.lines()
    # 7 batches x 0.25 = 1.75, 7 x 5 = 35 units, all recovered from the journal
    assert (line.amount, line.quantity) == (Dec("1.75"), Dec(35))
    assert crashed.get_counters(["spend|acc-1"]) == {"spend|acc-1": Dec("1.75")}
    # a two-pair counter effect (a period's units and amount) is replayed pair by pair
    assert crashed.get_counters(["use|s|d|p", "usd|s|d|p"]) == {
        "use|s|d|p": Dec(35), "usd|s|d|p": Dec("1.75")}
    raw = sqlite3.connect(path).execute("SELECT amount FROM ledger").fetchone()[0]
    assert raw == "1.50"  # the table itself is as of the last checkpoint (6 x 0.25)
    crashed.close()  # close() checkpoints
    assert sqlite3.connect(path).execute("SELECT amount FROM ledger").fetchone()[0] == "1.75"
    s.close()


def test_unjournaled_batch_checkpoints_at_once(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    s = SQLiteLedgerStore(path, checkpoint_every=100)
    s.apply(journaled_batch(0))
    s.apply(ChangeSet(counters={"bal|x": Dec(5)}))  # not journaled: no claim covers it
    assert sqlite3.connect(path).execute(
        "SELECT value FROM counters WHERE key = 'bal|x'").fetchone()[0] == "5"
    assert SQLiteLedgerStore(path).get_counters(["bal|x", "spend|acc-1"]) == {
        "bal|x": Dec(5), "spend|acc-1": Dec("0.25")}
    s.close()
