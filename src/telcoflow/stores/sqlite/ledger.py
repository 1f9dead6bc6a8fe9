"""The SQLite ledger store: embedded and durable (WAL, one transaction per batch).

Every :meth:`SQLiteLedgerStore.apply` is one ``BEGIN IMMEDIATE ... COMMIT`` transaction
holding a batch's claims, ledger lines, counters, flags and dead letters, so a process killed
at any instant leaves either the whole batch or none of it. ``synchronous`` is the
durability level (a parameter): ``FULL`` (the default) fsyncs the WAL at every commit, so a
commit survives a power loss too; ``NORMAL`` (WAL mode) skips that fsync, so a commit
survives a crash of the process (kill -9) but the last batches may be lost with a power
loss or an OS crash -- whole batches, claims with their effects, so exactly-once holds
and a replay processes them again.

The store is *single-writer*: one process owns the file while it writes. Ledger lines,
counters and flags (small: one row per account / subscriber / item type / period) are cached
in memory, loaded when the store opens and updated only after a commit succeeds; claims and
dead letters (one row per event) stay on disk and are read in batches.

**Threads.** Inside that process, one store may be shared by threads: it holds one
connection and a lock, so change sets from several threads are committed one after the other
(SQLite has one writer per file anyway) and the caches never see half a batch.

**Journal and checkpoints.** A claim row holds its event's effects (ledger postings and
counter changes). When a change set says it is *journaled* (its sums are exactly its claims'
effects, as the real-time graph's batches are), a commit writes only the claims, flags and
dead letters; the ``ledger`` and ``counters`` tables are brought up to date by a
*checkpoint* -- in the same transaction as a later batch, every ``checkpoint_every``
batches, when a change set is not journaled, or on :meth:`SQLiteLedgerStore.flush` /
``close``. Opening the store replays the claims committed after the last checkpoint, so a
crash at any instant loses nothing that was committed. :meth:`lines` is always current; the
``ledger`` table itself is current as of the last checkpoint.

Amounts are stored as decimal text, never as SQLite REAL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from telcoflow.errors import StoreError
from telcoflow.ledger import (
    ChangeSet,
    Claim,
    CounterMoves,
    DeadLetter,
    LedgerLine,
    LineKey,
    Posting,
    decode_effects,
    encode_effects,
)
from telcoflow.money import in_money_context

__all__ = ["LEDGER_TABLE", "SQLiteLedgerStore", "pending_claims", "recover"]

_ZERO = Decimal(0)
_CHUNK = 500

#: The ``ledger`` table, written here once: the store writes it, and
#: :class:`~telcoflow.stores.sqlite.cycle.SQLiteLedger` reads it for the bill run.
LEDGER_TABLE = """
CREATE TABLE IF NOT EXISTS ledger (
    account TEXT NOT NULL, subscriber TEXT NOT NULL, item_type TEXT NOT NULL,
    period TEXT NOT NULL, currency TEXT NOT NULL, amount TEXT NOT NULL, quantity TEXT NOT NULL,
    PRIMARY KEY (account, subscriber, item_type, period, currency)
) WITHOUT ROWID"""

_SCHEMA = LEDGER_TABLE + """;
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flags (key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (
    seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, fingerprint TEXT NOT NULL,
    effects TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
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
    """A durable :class:`~telcoflow.ledger.LedgerStore` in one SQLite file.

    ``path`` may be ``":memory:"`` for a private, non-durable database. ``synchronous`` is
    SQLite's durability level (``FULL``: every commit is fsynced); ``checkpoint_every`` is
    how many journaled batches may pass before the ledger and counter tables are rewritten.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "FULL",
                 checkpoint_every: int = 50) -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise StoreError(
                f"`synchronous` must be OFF, NORMAL, FULL or EXTRA (got {synchronous!r})"
            )
        if checkpoint_every < 1:
            raise StoreError(f"`checkpoint_every` must be >= 1 (got {checkpoint_every})")
        self.path = str(path)
        self.checkpoint_every = checkpoint_every
        self._since_checkpoint = 0
        self._dirty_lines: set[LineKey] = set()
        self._dirty_counters: set[str] = set()
        self._key_text: dict[object, str] = {}
        self._lock = threading.Lock()
        with _sqlite_errors("open", self.path):
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.execute("PRAGMA cache_size=-65536")
            self._db.executescript(_SCHEMA)
            self._ledger: dict[LineKey, list[Decimal]] = {
                (a, s, i, p, c): [Decimal(amount), Decimal(qty)]
                for a, s, i, p, c, amount, qty in self._db.execute("SELECT * FROM ledger")
            }
            self._counters: dict[str, Decimal] = {
                k: Decimal(v) for k, v in self._db.execute("SELECT key, value FROM counters")
            }
            self._flags: set[str] = {k for (k,) in self._db.execute("SELECT key FROM flags")}
            self._replay_journal()
        #: the committed counters, to read only (see ``telcoflow.ledger``)
        self.counter_view: Mapping[str, Decimal] = self._counters

    def _replay_journal(self) -> None:
        """Fold the claims committed after the last checkpoint into the caches."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
        done = int(row[0]) if row else 0
        for (text,) in self._db.execute(
                "SELECT effects FROM claims WHERE seq > ? ORDER BY seq", (done,)):
            effects = decode_effects(text)
            self._fold(
                [e for e in effects if type(e) is Posting],
                [pair for e in effects if type(e) is CounterMoves for pair in e.pairs()],
            )

    @in_money_context
    def _fold(self, lines: Iterable[tuple[LineKey, Decimal, Decimal]],
              counters: Iterable[tuple[str, Decimal]]) -> None:
        """Add committed, journaled deltas to the caches; their keys await a checkpoint."""
        ledger, values = self._ledger, self._counters
        dirty_lines, dirty_counters = self._dirty_lines, self._dirty_counters
        for key, amount, quantity in lines:
            line = ledger.get(key)
            if line is None:
                ledger[key] = [amount, quantity]
            else:
                line[0] += amount
                line[1] += quantity
            dirty_lines.add(key)
        for ckey, delta in counters:
            value = values.get(ckey)
            values[ckey] = delta if value is None else value + delta
            dirty_counters.add(ckey)

    # -- reads ------------------------------------------------------------------------
    def get_claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims that exist among ``event_ids`` (read in chunks of 500)."""
        out: dict[str, Claim] = {}
        ids = list(dict.fromkeys(event_ids))
        with self._lock, _sqlite_errors("reading claims", self.path):
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
        with self._lock:
            return {k: counters[k] for k in keys if k in counters}

    def get_flags(self, keys: Iterable[str]) -> set[str]:
        """The flags that are set among ``keys`` (from the cache)."""
        with self._lock:
            return self._flags.intersection(keys)

    # -- the one write ------------------------------------------------------------------
    def apply(self, changes: ChangeSet) -> None:
        """Apply a change set in one durable transaction; the cache follows only on success.

        Thread-safe: change sets applied from several threads are committed one at a time.
        """
        with self._lock:
            self._apply(changes)

    @in_money_context
    def _apply(self, changes: ChangeSet) -> None:
        if changes.is_empty():
            return
        checkpoint = (not changes.journaled
                      or self._since_checkpoint + 1 >= self.checkpoint_every)
        new_lines: dict[LineKey, list[Decimal]] = {}
        new_counters: dict[str, Decimal] = {}
        if checkpoint:  # the new sums are written in this transaction
            for key, (amount, quantity) in changes.ledger.items():
                old = self._ledger.get(key)
                if old is not None:
                    amount = old[0] + amount
                    quantity = old[1] + quantity
                new_lines[key] = [amount, quantity]
            for ckey, delta in changes.counters.items():
                new_counters[ckey] = self._counters.get(ckey, _ZERO) + delta
        db = self._db
        with _sqlite_errors("commit of a batch", self.path):
            db.execute("BEGIN IMMEDIATE")
            try:
                if changes.claims:
                    if not changes.journaled:  # rerating replaces earlier claims
                        db.executemany("DELETE FROM claims WHERE event_id = ?",
                                       [(c.event_id,) for c in changes.claims.values()])
                    db.executemany(
                        "INSERT INTO claims (event_id, fingerprint, effects) VALUES (?, ?, ?)",
                        [
                            (c.event_id, c.fingerprint, encode_effects(c.effects, self._key_text))
                            for c in changes.claims.values()
                        ],
                    )
                if changes.flags:
                    db.executemany(
                        "INSERT OR IGNORE INTO flags VALUES (?)", [(f,) for f in changes.flags]
                    )
                if changes.dead_letters:
                    db.executemany(
                        "INSERT OR IGNORE INTO dead_letters "
                        "(event_id, fingerprint, reason, message, payload) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [
                            (d.event_id, d.fingerprint, d.reason, d.message, d.payload)
                            for d in changes.dead_letters
                        ],
                    )
                if checkpoint:
                    self._write_sums(new_lines, new_counters)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        self._flags.update(changes.flags)
        if checkpoint:
            self._ledger.update(new_lines)
            self._counters.update(new_counters)
            self._dirty_lines.clear()
            self._dirty_counters.clear()
            self._since_checkpoint = 0
            return
        # committed, journaled: fold the deltas into the caches in one pass
        self._fold([(key, amount, quantity)
                    for key, (amount, quantity) in changes.ledger.items()],
                   changes.counters.items())
        self._since_checkpoint += 1

    def _write_sums(self, new_lines: dict[LineKey, list[Decimal]],
                    new_counters: dict[str, Decimal]) -> None:
        """Write every line and counter changed since the last checkpoint (in a transaction)."""
        lines = {k: self._ledger[k] for k in self._dirty_lines}
        lines.update(new_lines)
        counters = {k: self._counters[k] for k in self._dirty_counters}
        counters.update(new_counters)
        db = self._db
        db.executemany(
            "INSERT INTO ledger VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT (account, subscriber, item_type, period, currency) "
            "DO UPDATE SET amount = excluded.amount, quantity = excluded.quantity",
            [(*k, str(v[0]), str(v[1])) for k, v in lines.items()],
        )
        db.executemany(
            "INSERT INTO counters VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(k, str(v)) for k, v in counters.items()],
        )
        db.execute(
            "INSERT INTO meta VALUES ('checkpoint', (SELECT coalesce(max(seq), 0) FROM claims)) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )

    def flush(self) -> None:
        """Checkpoint now: write every pending line and counter sum to the tables."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if not (self._dirty_lines or self._dirty_counters):
            return
        db = self._db
        with _sqlite_errors("checkpoint", self.path):
            db.execute("BEGIN IMMEDIATE")
            try:
                self._write_sums({}, {})
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        self._dirty_lines.clear()
        self._dirty_counters.clear()
        self._since_checkpoint = 0

    # -- queries ------------------------------------------------------------------------
    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally filtered, sorted by key."""
        with self._lock:
            items = sorted((k, (v[0], v[1])) for k, v in self._ledger.items())
        return [
            LedgerLine(*key, amount=v[0], quantity=v[1])
            for key, v in items
            if (account is None or key[0] == account) and (period is None or key[3] == period)
        ]

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first (one per event id and payload)."""
        with self._lock, _sqlite_errors("reading dead letters", self.path):
            rows = self._db.execute(
                "SELECT event_id, reason, message, fingerprint, payload FROM dead_letters "
                "ORDER BY seq"
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def claim_count(self) -> int:
        """How many event ids are claimed."""
        with self._lock, _sqlite_errors("counting claims", self.path):
            (count,) = self._db.execute("SELECT count(*) FROM claims").fetchone()
        return int(count)

    def close(self) -> None:
        """Checkpoint pending sums and close the database connection."""
        self.flush()
        with self._lock, _sqlite_errors("close", self.path):
            self._db.close()


def pending_claims(path: str | Path) -> int:
    """How many committed claims of the store at ``path`` its ``ledger`` and ``counters``
    tables do not hold yet (claims after the last checkpoint); 0 for a file without a store.
    """
    with _sqlite_errors("reading the journal", str(path)):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {name for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"claims", "meta"} <= tables:
                return 0
            row = db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
            done = int(row[0]) if row else 0
            (count,) = db.execute("SELECT count(*) FROM claims WHERE seq > ?",
                                  (done,)).fetchone()
            return int(count)
        finally:
            db.close()


def recover(path: str | Path) -> int:
    """Bring the ``ledger`` and ``counters`` tables of the store at ``path`` up to every
    committed claim (what opening and closing the store does); return how many claims were
    folded. Readers of the tables (the bill run, audits) call this first, so a writer that
    died between checkpoints never hides committed events from them. Safe while a writer
    runs: both write the same sums, derived from the same claims.
    """
    pending = pending_claims(path)
    if pending:
        SQLiteLedgerStore(path).close()
    return pending
