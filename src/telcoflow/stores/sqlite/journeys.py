"""The SQLite journey store: the embedded default for journey instances.

Instances live in one table, their transition records are appended to another
(``journey_records``, the source of journey metrics); both are encoded by
:mod:`telcoflow.journeys.encoding`, as the PostgreSQL backend encodes them.

**Threads.** One store may be shared by the threads of a process (a thread pool serving
requests, a :class:`~telcoflow.journeys.runtime.JourneyRuntime` shared by them): it holds one
connection and a lock, and every call runs under that lock. SQLite has one writer per file at
a time anyway, and a lock keeps ``":memory:"`` databases (one per connection) working; see
docs/deployment.md.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from telcoflow.errors import ConcurrencyError, StoreError
from telcoflow.journeys.encoding import (
    dump_deadlines,
    dumps,
    instance_from_row,
    instance_records,
    instance_row,
)
from telcoflow.journeys.instance import JourneyInstance
from telcoflow.journeys.store import version_conflict

__all__ = ["SQLiteJourneyStore"]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS journey_instances (
    id TEXT PRIMARY KEY NOT NULL,
    journey_id TEXT NOT NULL,
    journey_version INTEGER NOT NULL,
    state TEXT NOT NULL,
    context TEXT NOT NULL,
    deadlines TEXT NOT NULL,
    next_due REAL,
    memory TEXT,
    outcome TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS journey_instances_due ON journey_instances (next_due)
    WHERE next_due IS NOT NULL;
CREATE TABLE IF NOT EXISTS journey_records (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    trigger TEXT NOT NULL,
    state TEXT NOT NULL,
    channel TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS journey_records_instance
    ON journey_records (instance_id, seq);
"""


# The statement of save_many. A missing value is not passed as None but as a value of
# another type that SQLite turns back into NULL (NULLIF): Python's sqlite3 module binds str,
# int and float directly but sends every other value, None included, through its adapter
# lookup, which raises and clears an AttributeError per value (a tenth of the cost of a
# saved row). next_due is a number or NULL (so "" stands for NULL), memory JSON text or NULL
# and outcome a name or NULL (so 0 does: an integer binds without a copy).
_UPDATE = ("UPDATE journey_instances SET context=?, deadlines=?, next_due=NULLIF(?, ''), "
           "memory=NULLIF(?, 0), outcome=NULLIF(?, 0), state=?, version=?, journey_version=? "
           "WHERE id=? AND version=?")


class SQLiteJourneyStore:
    """Instances in SQLite (a file or ``":memory:"``); records appended, never rewritten.

    Instances go to a rowid table (the id is a unique index): instances created together
    sit on neighbouring pages, so a batch that moves them dirties few pages, whatever their
    ids (a file made by an earlier version, keyed by id ``WITHOUT ROWID``, works the same).
    Records go to a rowid table in the order they are written (each batch appends to the
    end of the table; only the small ``(instance_id, seq)`` index is written in place, and
    its uniqueness is a second guard against two writers recording one version).

    WAL journal with ``synchronous=NORMAL``: a commit is not synced to disk, only checkpoints
    are. A crash of the process loses nothing committed (the WAL is in the operating system's
    cache); a power cut or an operating-system crash may lose the last commits since the
    last checkpoint, and never corrupts the file. ``cache_mib`` sizes SQLite's page cache;
    ``checkpoint_pages`` how large the WAL grows (in pages) before it is checkpointed.
    """

    __slots__ = ("_db", "_lock")

    def __init__(self, path: str | Path = ":memory:", *, cache_mib: int = 64,
                 checkpoint_pages: int = 8192) -> None:
        self._lock = threading.Lock()
        with self._guard("opening"):
            self._db = sqlite3.connect(str(path), isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")
            # Checkpoint (copy the WAL into the database file, the only step that syncs under
            # synchronous=NORMAL) every `checkpoint_pages` pages rather than SQLite's 1000:
            # fewer syncs, and a page rewritten by several batches is copied once. The WAL
            # is truncated back to that size after a checkpoint.
            pages = max(1, int(checkpoint_pages))
            self._db.execute(f"PRAGMA wal_autocheckpoint={pages}")
            (page_size,) = self._db.execute("PRAGMA page_size").fetchone()
            self._db.execute(f"PRAGMA journal_size_limit={pages * int(page_size)}")
            self._db.executescript(_SCHEMA)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Hold the store's lock; SQLite and encoding errors become :class:`StoreError`."""
        with self._lock:
            try:
                yield
            except (sqlite3.Error, TypeError, ValueError) as exc:
                raise StoreError(f"SQLite journey store: {what} failed: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def create(self, instance: JourneyInstance) -> None:
        """Add a new instance (``ConcurrencyError`` if its id exists)."""
        self.create_many([instance])

    def create_many(self, instances: Sequence[JourneyInstance]) -> None:
        """Add new instances in one transaction (``ConcurrencyError`` if an id exists)."""
        rows = []
        records: list[tuple[Any, ...]] = []
        for inst in instances:
            ctx, deadlines, due, memory, outcome, state, version = instance_row(inst)
            rows.append((inst.id, inst.journey_id, inst.journey_version, state, ctx, deadlines,
                         due, memory, outcome, version))
            records += instance_records(inst, 0)
        db = self._db
        with self._guard("creating instances"):
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO journey_instances VALUES (?,?,?,?,?,?,?,?,?,?)",
                               rows)
                db.executemany("INSERT INTO journey_records VALUES (?,?,?,?,?,?)", records)
            except sqlite3.IntegrityError as exc:
                db.execute("ROLLBACK")
                raise ConcurrencyError(f"an instance already exists ({exc})") from exc
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def load(self, instance_id: str) -> JourneyInstance:
        """A private copy of the instance (``StoreError`` if unknown)."""
        with self._guard(f"loading {instance_id}"):
            row = self._db.execute(
                "SELECT id, journey_id, journey_version, state, context, deadlines, memory, "
                "outcome, version FROM journey_instances WHERE id = ?", (instance_id,)).fetchone()
            if row is None:
                raise StoreError(f"no journey instance {instance_id!r}")
            records = self._db.execute(
                "SELECT at, trigger, state, channel FROM journey_records WHERE instance_id = ? "
                "ORDER BY seq", (instance_id,)).fetchall()
        return instance_from_row(row, records)

    def save(self, instance: JourneyInstance, expected_version: int) -> None:
        """Write the instance if the stored version is ``expected_version``."""
        self.save_many([(instance, expected_version)])

    def save_many(self, items: Sequence[tuple[JourneyInstance, int]]) -> None:
        """Save several ``(instance, expected_version)`` in one transaction (all or none)."""
        if not items:
            return
        # One pass, no helper calls per instance: this loop is most of the Python time of a
        # persisted transition (the JSON encoding of the context above all).
        rows: list[tuple[Any, ...]] = []
        records: list[tuple[Any, ...]] = []
        add_row = rows.append
        add_record = records.append
        for inst, expected in items:
            deadlines = inst.deadlines
            memory = inst.memory
            iid = inst.id
            outcome = inst.outcome
            add_row((dumps(inst.context), dump_deadlines(deadlines) if deadlines else "",
                     deadlines[0][0] if deadlines else "", dumps(memory) if memory else 0,
                     outcome if outcome is not None else 0, inst.state, inst.version,
                     inst.journey_version, iid, expected))
            h = inst.history
            for i in range((expected + 1) * 4, len(h), 4):
                add_record((iid, i >> 2, h[i], h[i + 1], h[i + 2], h[i + 3]))
        db = self._db
        with self._guard("saving"):
            db.execute("BEGIN IMMEDIATE")  # the write lock: versions cannot change under us
            try:
                cur = db.executemany(_UPDATE, rows)
                if cur.rowcount != len(rows):
                    db.execute("ROLLBACK")
                    self._check_versions(items)  # names the instance someone else moved
                    raise ConcurrencyError("an instance appears twice in one batch")
                db.executemany("INSERT INTO journey_records VALUES (?,?,?,?,?,?)", records)
            except ConcurrencyError:
                raise
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _check_versions(self, items: Sequence[tuple[JourneyInstance, int]]) -> None:
        expected = {inst.id: version for inst, version in items}
        if len(expected) != len(items):
            raise ConcurrencyError("an instance appears twice in one batch")
        ids = list(expected)
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(
                f"SELECT id, version FROM journey_instances WHERE id IN ({marks})",
                chunk).fetchall())
        for iid, version in expected.items():
            if found.get(iid) != version:
                raise version_conflict(iid, version, found.get(iid))

    def due(self, now: float) -> list[str]:
        """Ids of instances with a deadline due at or before ``now``."""
        with self._guard("reading deadlines"):
            rows = self._db.execute(
                "SELECT id FROM journey_instances WHERE next_due IS NOT NULL AND next_due <= ? "
                "ORDER BY next_due", (now,)).fetchall()
        return [r[0] for r in rows]

    def instances(self, journey_id: str | None = None) -> Iterator[JourneyInstance]:
        """Every stored instance (of one journey, if given)."""
        sql = ("SELECT id, journey_id, journey_version, state, context, deadlines, memory, "
               "outcome, version FROM journey_instances")
        args: tuple[Any, ...] = ()
        if journey_id is not None:
            sql += " WHERE journey_id = ?"
            args = (journey_id,)
        with self._guard("listing instances"):
            rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        for row in rows:
            with self._guard(f"loading {row[0]}"):
                records = self._db.execute(
                    "SELECT at, trigger, state, channel FROM journey_records "
                    "WHERE instance_id = ? ORDER BY seq", (row[0],)).fetchall()
            yield instance_from_row(row, records)

    def __len__(self) -> int:
        with self._guard("counting instances"):
            (count,) = self._db.execute("SELECT COUNT(*) FROM journey_instances").fetchone()
        return int(count)
