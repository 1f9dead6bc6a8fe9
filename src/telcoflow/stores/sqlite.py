"""The SQLite ledger store: embedded and durable (WAL, one transaction per batch).

Every :meth:`SQLiteLedgerStore.apply` is one ``BEGIN IMMEDIATE ... COMMIT`` transaction
holding a batch's claims, ledger lines, counters, flags and dead letters, so a process killed
at any instant leaves either the whole batch or none of it. ``synchronous=FULL`` makes each
commit durable (fsync of the WAL).

The store is *single-writer*: one process owns the file while it writes. Ledger lines,
counters and flags (small: one row per account / subscriber / item type / period) are cached
in memory, loaded when the store opens and updated only after a commit succeeds; claims and
dead letters (one row per event) stay on disk and are read in batches.

Amounts are stored as decimal text, never as SQLite REAL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from telcoflow.errors import StoreError
from telcoflow.stores.base import (
    ChangeSet,
    Claim,
    DeadLetter,
    LedgerLine,
    LineKey,
    decode_effects,
    encode_effects,
)

__all__ = ["SQLiteLedgerStore"]

_ZERO = Decimal(0)
_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    account TEXT NOT NULL, subscriber TEXT NOT NULL, item_type TEXT NOT NULL,
    period TEXT NOT NULL, currency TEXT NOT NULL, amount TEXT NOT NULL, quantity TEXT NOT NULL,
    PRIMARY KEY (account, subscriber, item_type, period, currency)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flags (key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (
    event_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, effects TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    reason TEXT NOT NULL, message TEXT NOT NULL, payload TEXT NOT NULL,
    UNIQUE (event_id, fingerprint)
);
"""


@contextmanager
def _sqlite_errors(what: str, path: str) -> Iterator[None]:
    """Translate :mod:`sqlite3` errors into :class:`StoreError` at the boundary."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite ledger store {path}: {what} failed: {exc}") from exc


class SQLiteLedgerStore:
    """A durable :class:`~telcoflow.stores.base.LedgerStore` in one SQLite file.

    ``path`` may be ``":memory:"`` for a private, non-durable database.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise StoreError(
                f"`synchronous` must be OFF, NORMAL, FULL or EXTRA (got {synchronous!r})"
            )
        self.path = str(path)
        with _sqlite_errors("open", self.path):
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            self._ledger: dict[LineKey, list[Decimal]] = {
                (a, s, i, p, c): [Decimal(amount), Decimal(qty)]
                for a, s, i, p, c, amount, qty in self._db.execute("SELECT * FROM ledger")
            }
            self._counters: dict[str, Decimal] = {
                k: Decimal(v) for k, v in self._db.execute("SELECT key, value FROM counters")
            }
            self._flags: set[str] = {k for (k,) in self._db.execute("SELECT key FROM flags")}

    # -- reads ------------------------------------------------------------------------
    def get_claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims that exist among ``event_ids`` (read in chunks of 500)."""
        out: dict[str, Claim] = {}
        ids = list(dict.fromkeys(event_ids))
        with _sqlite_errors("reading claims", self.path):
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT event_id, fingerprint, effects FROM claims "
                    f"WHERE event_id IN ({marks})",
                    chunk,
                )
                for event_id, fp, effects in rows:
                    out[event_id] = Claim(event_id, fp, decode_effects(effects))
        return out

    def get_counters(self, keys: Iterable[str]) -> dict[str, Decimal]:
        """Current values of the counters that exist among ``keys`` (from the cache)."""
        counters = self._counters
        return {k: counters[k] for k in keys if k in counters}

    def get_flags(self, keys: Iterable[str]) -> set[str]:
        """The flags that are set among ``keys`` (from the cache)."""
        return self._flags.intersection(keys)

    # -- the one write ------------------------------------------------------------------
    def apply(self, changes: ChangeSet) -> None:
        """Apply a change set in one durable transaction; the cache follows only on success."""
        if changes.is_empty():
            return
        ledger_rows: list[tuple[str, ...]] = []
        new_lines: dict[LineKey, list[Decimal]] = {}
        for key, (amount, quantity) in changes.ledger.items():
            old = self._ledger.get(key)
            if old is not None:
                amount = old[0] + amount
                quantity = old[1] + quantity
            new_lines[key] = [amount, quantity]
            ledger_rows.append((*key, str(amount), str(quantity)))
        new_counters: dict[str, Decimal] = {}
        for ckey, delta in changes.counters.items():
            new_counters[ckey] = self._counters.get(ckey, _ZERO) + delta
        db = self._db
        with _sqlite_errors("commit of a batch", self.path):
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO ledger VALUES (?,?,?,?,?,?,?) "
                    "ON CONFLICT (account, subscriber, item_type, period, currency) "
                    "DO UPDATE SET amount = excluded.amount, quantity = excluded.quantity",
                    ledger_rows,
                )
                db.executemany(
                    "INSERT INTO counters VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [(k, str(v)) for k, v in new_counters.items()],
                )
                db.executemany(
                    "INSERT OR IGNORE INTO flags VALUES (?)", [(f,) for f in changes.flags]
                )
                db.executemany(
                    "INSERT OR REPLACE INTO claims VALUES (?, ?, ?)",
                    [
                        (c.event_id, c.fingerprint, encode_effects(c.effects))
                        for c in changes.claims.values()
                    ],
                )
                db.executemany(
                    "INSERT OR IGNORE INTO dead_letters "
                    "(event_id, fingerprint, reason, message, payload) VALUES (?, ?, ?, ?, ?)",
                    [
                        (d.event_id, d.fingerprint, d.reason, d.message, d.payload)
                        for d in changes.dead_letters
                    ],
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        self._ledger.update(new_lines)
        self._counters.update(new_counters)
        self._flags.update(changes.flags)

    # -- queries ------------------------------------------------------------------------
    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally filtered, sorted by key."""
        return [
            LedgerLine(*key, amount=v[0], quantity=v[1])
            for key, v in sorted(self._ledger.items())
            if (account is None or key[0] == account) and (period is None or key[3] == period)
        ]

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first (one per event id and payload)."""
        with _sqlite_errors("reading dead letters", self.path):
            rows = self._db.execute(
                "SELECT event_id, reason, message, fingerprint, payload FROM dead_letters "
                "ORDER BY seq"
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def claim_count(self) -> int:
        """How many event ids are claimed."""
        with _sqlite_errors("counting claims", self.path):
            (count,) = self._db.execute("SELECT count(*) FROM claims").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the database connection."""
        with _sqlite_errors("close", self.path):
            self._db.close()
