"""Where journey instances live: a small :class:`JourneyStore` protocol and two backends.

A backend implements seven small methods: ``create``/``create_many``, ``load``,
``save``/``save_many``, ``due`` and ``instances``. Saving is optimistic:
``save(instance, expected_version)`` succeeds only if the stored version still equals
``expected_version``, otherwise it raises :class:`~telcoflow.errors.ConcurrencyError`
(another worker moved the instance first).

* :class:`MemoryJourneyStore`: a dict of private copies (tests, single process).
* :class:`SQLiteJourneyStore`: the embedded default; instances in one table, their transition
  records appended to another (``journey_records``, the source of journey metrics).

A PostgreSQL backend needs the same seven methods (``UPDATE ... WHERE version = %s``).
"""

from __future__ import annotations

import heapq
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from telcoflow.errors import ConcurrencyError, StoreError
from telcoflow.journeys.instance import JourneyInstance

__all__ = ["JourneyStore", "MemoryJourneyStore", "SQLiteJourneyStore"]


@runtime_checkable
class JourneyStore(Protocol):
    """Storage of journey instances with optimistic concurrency."""

    def create(self, instance: JourneyInstance) -> None:
        """Add a new instance (``ConcurrencyError`` if its id exists)."""

    def create_many(self, instances: Sequence[JourneyInstance]) -> None:
        """Add new instances atomically (``ConcurrencyError`` if an id exists)."""

    def load(self, instance_id: str) -> JourneyInstance:
        """A private copy of the instance (``StoreError`` if unknown)."""

    def save(self, instance: JourneyInstance, expected_version: int) -> None:
        """Write the instance if the stored version is ``expected_version``."""

    def save_many(self, items: Sequence[tuple[JourneyInstance, int]]) -> None:
        """Save several ``(instance, expected_version)`` atomically (all or none)."""

    def due(self, now: float) -> list[str]:
        """Ids of instances with a deadline due at or before ``now``."""

    def instances(self, journey_id: str | None = None) -> Iterator[JourneyInstance]:
        """Every stored instance (of one journey, if given)."""


def _conflict(instance_id: str, expected: int, found: int | None) -> ConcurrencyError:
    found_text = "it does not exist" if found is None else f"it is at version {found}"
    return ConcurrencyError(f"instance {instance_id} was moved by someone else: expected "
                            f"version {expected}, {found_text}")


class MemoryJourneyStore:
    """Instances kept as private copies in a dict; deadlines in a heap."""

    __slots__ = ("_due", "_rows")

    def __init__(self) -> None:
        self._rows: dict[str, JourneyInstance] = {}
        self._due: list[tuple[float, str]] = []

    def create(self, instance: JourneyInstance) -> None:
        """Add a new instance (``ConcurrencyError`` if its id exists)."""
        self.create_many([instance])

    def create_many(self, instances: Sequence[JourneyInstance]) -> None:
        """Add new instances atomically (``ConcurrencyError`` if an id exists)."""
        ids = [i.id for i in instances]
        taken = [iid for iid in ids if iid in self._rows]
        if taken or len(set(ids)) != len(ids):
            raise ConcurrencyError(f"instance(s) already exist: {taken or ids}")
        for inst in instances:
            self._put(inst)

    def _put(self, instance: JourneyInstance) -> None:
        old = self._rows.get(instance.id)
        self._rows[instance.id] = instance.copy()
        due = instance.next_deadline
        if due is not None and (old is None or old.next_deadline != due):
            heapq.heappush(self._due, (due, instance.id))

    def load(self, instance_id: str) -> JourneyInstance:
        """A private copy of the instance (``StoreError`` if unknown)."""
        row = self._rows.get(instance_id)
        if row is None:
            raise StoreError(f"no journey instance {instance_id!r}")
        return row.copy()

    def save(self, instance: JourneyInstance, expected_version: int) -> None:
        """Write the instance if the stored version is ``expected_version``."""
        self.save_many([(instance, expected_version)])

    def save_many(self, items: Sequence[tuple[JourneyInstance, int]]) -> None:
        """Save several ``(instance, expected_version)`` atomically (all or none)."""
        for inst, expected in items:
            row = self._rows.get(inst.id)
            if row is None or row.version != expected:
                raise _conflict(inst.id, expected, None if row is None else row.version)
        for inst, _ in items:
            self._put(inst)

    def due(self, now: float) -> list[str]:
        """Ids of instances with a deadline due at or before ``now``."""
        out: dict[str, None] = {}
        pending: list[tuple[float, str]] = []
        heap = self._due
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            row = self._rows.get(entry[1])
            if row is not None and row.next_deadline == entry[0]:
                out[entry[1]] = None
                pending.append(entry)  # still due until a save moves the deadline
            # else: stale (the deadline moved or the instance finished)
        for entry in pending:
            heapq.heappush(heap, entry)
        return list(out)

    def instances(self, journey_id: str | None = None) -> Iterator[JourneyInstance]:
        """Every stored instance (of one journey, if given), as copies."""
        for row in list(self._rows.values()):
            if journey_id is None or row.journey_id == journey_id:
                yield row.copy()

    def __len__(self) -> int:
        return len(self._rows)


# ----------------------------------------------------------------------------- SQLite


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot store {type(value).__name__} {value!r} in a journey context")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$decimal" in obj:
            return Decimal(obj["$decimal"])
        if "$datetime" in obj:
            return datetime.fromisoformat(obj["$datetime"])
        if "$date" in obj:
            return date.fromisoformat(obj["$date"])
    return obj


_ENCODER = json.JSONEncoder(default=_encode, separators=(",", ":"))
# The C encoder, made once: ``JSONEncoder.encode`` builds a new one on every call, which is
# most of the cost of encoding a small context. No ``markers`` dict (it would be shared
# between threads): a circular context ends in RecursionError, reported as a ValueError.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode: Callable[[Any, int], Sequence[str]] | None = (
    _c_make_encoder(None, _encode, json.encoder.encode_basestring_ascii, None, ":", ",",
                    False, False, True) if _c_make_encoder is not None else None)


def _dumps(value: Any) -> str:
    if _c_encode is None:  # pragma: no cover - Python without the _json accelerator
        return _ENCODER.encode(value)
    try:
        return "".join(_c_encode(value, 0))
    except RecursionError as exc:
        raise ValueError("a journey context must not contain itself") from exc


def _loads(text: str) -> Any:
    return json.loads(text, object_hook=_decode)


def _dump_deadlines(deadlines: tuple[tuple[float, str], ...]) -> str:
    """``due state`` pairs, one per line (``repr`` keeps every bit of the float)."""
    if len(deadlines) == 1:  # the usual case: no generator, no join
        due, state = deadlines[0]
        return f"{due!r} {state}"
    return "\n".join(f"{due!r} {state}" for due, state in deadlines)


def _load_deadlines(text: str) -> tuple[tuple[float, str], ...]:
    out = []
    for line in text.splitlines():
        due, _, state = line.partition(" ")
        out.append((float(due), sys.intern(state)))
    return tuple(out)


@contextmanager
def _sqlite_errors(what: str) -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, TypeError, ValueError) as exc:
        raise StoreError(f"SQLite journey store: {what} failed: {exc}") from exc


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

    __slots__ = ("_db",)

    def __init__(self, path: str | Path = ":memory:", *, cache_mib: int = 64,
                 checkpoint_pages: int = 8192) -> None:
        with _sqlite_errors("opening"):
            self._db = sqlite3.connect(str(path), isolation_level=None)
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

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    @staticmethod
    def _row(inst: JourneyInstance) -> tuple[Any, ...]:
        return (_dumps(inst.context), _dump_deadlines(inst.deadlines), inst.next_deadline,
                _dumps(inst.memory) if inst.memory else None, inst.outcome, inst.state,
                inst.version)

    @staticmethod
    def _records(inst: JourneyInstance, first: int) -> list[tuple[Any, ...]]:
        h = inst.history
        return [(inst.id, i // 4, h[i], h[i + 1], h[i + 2], h[i + 3])
                for i in range(first * 4, len(h), 4)]

    def create(self, instance: JourneyInstance) -> None:
        """Add a new instance (``ConcurrencyError`` if its id exists)."""
        self.create_many([instance])

    def create_many(self, instances: Sequence[JourneyInstance]) -> None:
        """Add new instances in one transaction (``ConcurrencyError`` if an id exists)."""
        rows = []
        records: list[tuple[Any, ...]] = []
        for inst in instances:
            ctx, deadlines, due, memory, outcome, state, version = self._row(inst)
            rows.append((inst.id, inst.journey_id, inst.journey_version, state, ctx, deadlines,
                         due, memory, outcome, version))
            records += self._records(inst, 0)
        db = self._db
        with _sqlite_errors("creating instances"):
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
        with _sqlite_errors(f"loading {instance_id}"):
            row = self._db.execute(
                "SELECT id, journey_id, journey_version, state, context, deadlines, memory, "
                "outcome, version FROM journey_instances WHERE id = ?", (instance_id,)).fetchone()
            if row is None:
                raise StoreError(f"no journey instance {instance_id!r}")
            records = self._db.execute(
                "SELECT at, trigger, state, channel FROM journey_records WHERE instance_id = ? "
                "ORDER BY seq", (instance_id,)).fetchall()
        return self._instance(row, records)

    @staticmethod
    def _instance(row: Sequence[Any], records: Sequence[Sequence[Any]]) -> JourneyInstance:
        intern = sys.intern
        history: list[Any] = []
        for at, trigger, state, channel in records:
            history += (at, intern(trigger), intern(state), intern(channel))
        memory = _loads(row[6]) if row[6] else None
        return JourneyInstance(row[0], row[1], row[2], intern(row[3]), _loads(row[4]), history,
                               _load_deadlines(row[5]), memory,
                               row[8], row[7])

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
        dumps = _dumps
        dump_deadlines = _dump_deadlines
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
        with _sqlite_errors("saving"):
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
                raise _conflict(iid, version, found.get(iid))

    def due(self, now: float) -> list[str]:
        """Ids of instances with a deadline due at or before ``now``."""
        with _sqlite_errors("reading deadlines"):
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
        with _sqlite_errors("listing instances"):
            rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        for row in rows:
            with _sqlite_errors(f"loading {row[0]}"):
                records = self._db.execute(
                    "SELECT at, trigger, state, channel FROM journey_records "
                    "WHERE instance_id = ? ORDER BY seq", (row[0],)).fetchall()
            yield self._instance(row, records)

    def __len__(self) -> int:
        (count,) = self._db.execute("SELECT COUNT(*) FROM journey_instances").fetchone()
        return int(count)
