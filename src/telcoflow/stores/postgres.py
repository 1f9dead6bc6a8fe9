"""PostgreSQL backends (psycopg 3): the ledger with its dead letters, journey instances and
bill-run state, for many workers writing at once.

* :class:`PostgresLedgerStore` -- a :class:`~telcoflow.ledger.LedgerStore`. Ledger and
  counter changes are *deltas* added in SQL (``amount = ledger.amount + excluded.amount``),
  so workers never overwrite each other's sums. A batch's claims are inserted in the same
  transaction as its ledger writes; a claim that another worker committed first (the same
  event delivered twice, e.g. after a stream entry was reclaimed) makes the whole batch roll
  back with :class:`~telcoflow.errors.ConcurrencyError`: processing it again finds the claim
  and treats the event as a duplicate, so nothing is charged twice.
* :class:`PostgresJourneyStore` -- a :class:`~telcoflow.journeys.store.JourneyStore` with
  optimistic concurrency (``UPDATE ... WHERE version = %s``).
* :class:`PostgresBillStore` -- the bill-run state (finished accounts and their bills) with
  the methods of :class:`~telcoflow.billing.cycle.store.BillStore`.

Each store creates its tables through numbered migrations (:data:`MIGRATIONS`), recorded in
``telcoflow_migrations`` and applied under an advisory lock, so several workers starting at
once migrate exactly once. A ``schema`` (a URL query parameter ``?schema=name`` or the
argument) keeps one deployment -- or one test -- in its own PostgreSQL schema.

Amounts are ``NUMERIC`` (exact decimals, returned as :class:`~decimal.Decimal`). A broken
connection (server restarted, backend terminated) is reported as
:class:`~telcoflow.errors.StoreError` once and re-opened on the next call.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from telcoflow._optional import requires
from telcoflow.errors import (
    ClaimConflictError,  # re-exported: defined in errors.py
    ConcurrencyError,
    StoreError,
)
from telcoflow.ledger import (
    ChangeSet,
    Claim,
    DeadLetter,
    LedgerLine,
    decode_effects,
    encode_effects,
)
from telcoflow.privacy import redact_url

with requires("postgres", "the PostgreSQL store"):
    import psycopg
    from psycopg import sql

if TYPE_CHECKING:  # the higher layers are imported lazily, where they are used
    from telcoflow.billing.cycle.store import FinishedAccount, StoreTotals
    from telcoflow.journeys.instance import JourneyInstance

__all__ = [
    "MIGRATIONS",
    "ClaimConflictError",
    "Migration",
    "PostgresBillStore",
    "PostgresConnection",
    "PostgresJourneyStore",
    "PostgresLedgerStore",
    "split_postgres_url",
]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change of a component (``ledger``, ``journeys``, ``billrun``)."""

    component: str
    version: int
    name: str
    statements: tuple[str, ...]


#: Every schema change, in order. Never edit an applied migration: append a new one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration("ledger", 1, "ledger, counters, flags, claims, dead letters", (
        """CREATE TABLE IF NOT EXISTS ledger (
            account TEXT NOT NULL, subscriber TEXT NOT NULL, item_type TEXT NOT NULL,
            period TEXT NOT NULL, currency TEXT NOT NULL,
            amount NUMERIC NOT NULL, quantity NUMERIC NOT NULL,
            PRIMARY KEY (account, subscriber, item_type, period, currency))""",
        "CREATE INDEX IF NOT EXISTS ledger_period ON ledger (period)",
        "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value NUMERIC NOT NULL)",
        "CREATE TABLE IF NOT EXISTS flags (key TEXT PRIMARY KEY)",
        """CREATE TABLE IF NOT EXISTS claims (
            event_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, effects TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS dead_letters (
            seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
            reason TEXT NOT NULL, message TEXT NOT NULL, payload TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            UNIQUE (event_id, fingerprint))""",
    )),
    Migration("ledger", 2, "owner index on counters and flags (warm-up reads)", (
        "CREATE INDEX IF NOT EXISTS counters_owner ON counters (split_part(key, '|', 2))",
        "CREATE INDEX IF NOT EXISTS flags_owner ON flags (split_part(key, '|', 2))",
    )),
    Migration("journeys", 1, "journey instances and their transition records", (
        """CREATE TABLE IF NOT EXISTS journey_instances (
            id TEXT PRIMARY KEY, journey_id TEXT NOT NULL, journey_version INTEGER NOT NULL,
            state TEXT NOT NULL, context TEXT NOT NULL, deadlines TEXT NOT NULL,
            next_due DOUBLE PRECISION, memory TEXT, outcome TEXT, version INTEGER NOT NULL)""",
        """CREATE INDEX IF NOT EXISTS journey_instances_due ON journey_instances (next_due)
            WHERE next_due IS NOT NULL""",
        """CREATE TABLE IF NOT EXISTS journey_records (
            instance_id TEXT NOT NULL, seq INTEGER NOT NULL, at DOUBLE PRECISION NOT NULL,
            trigger TEXT NOT NULL, state TEXT NOT NULL, channel TEXT NOT NULL,
            PRIMARY KEY (instance_id, seq))""",
    )),
    Migration("billrun", 1, "finished accounts and bills of bill runs", (
        """CREATE TABLE IF NOT EXISTS bill_accounts (
            cycle TEXT NOT NULL, account_id TEXT NOT NULL, status TEXT NOT NULL,
            reason TEXT, bill_id TEXT, currency TEXT, total NUMERIC, total_minor BIGINT,
            finished_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (cycle, account_id))""",
        """CREATE TABLE IF NOT EXISTS bills (
            bill_id TEXT PRIMARY KEY, cycle TEXT NOT NULL, account_id TEXT NOT NULL,
            xml BYTEA, html BYTEA, json BYTEA)""",
        "CREATE INDEX IF NOT EXISTS bills_cycle ON bills (cycle, account_id)",
    )),
)


#: a JSON array of texts as a PostgreSQL array (parameters travel as one JSON text: json.dumps
#: is C code, much cheaper than dumping a Python list element by element)
_IDS = "ARRAY(SELECT json_array_elements_text(%s::json))"


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def split_postgres_url(url: str) -> tuple[str, str | None]:
    """Split ``postgresql://...?schema=name`` into the libpq URL and the schema name."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(f"a PostgreSQL URL must start with postgresql:// (got {url!r})")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = None
    kept = []
    for key, value in query:
        if key == "schema":
            schema = value or None
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), schema


_safe = redact_url


class PostgresConnection:
    """One psycopg connection that re-opens itself after a failure, in a schema.

    Every use goes through :meth:`run` (``with conn.run("what") as c:``), which translates
    psycopg errors into :class:`StoreError` (and serialization failures / deadlocks into
    :class:`ConcurrencyError`) and drops a broken connection so the next call reconnects.
    """

    def __init__(self, url: str, *, schema: str | None = None, connect_timeout: float = 10.0,
                 application_name: str = "telcoflow") -> None:
        conninfo, url_schema = split_postgres_url(url)
        self.url = _safe(url)
        self.conninfo = conninfo
        self.schema = schema if schema is not None else url_schema
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.RLock()

    def _open(self) -> psycopg.Connection[Any]:
        extra: dict[str, Any] = {}
        if "application_name" not in self.conninfo:  # the URL's own name wins
            extra["application_name"] = self.application_name
        conn = psycopg.connect(self.conninfo, autocommit=True,
                               connect_timeout=max(1, int(self.connect_timeout)), **extra)
        if self.schema:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                             (f"telcoflow-schema-{self.schema}",))
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    sql.Identifier(self.schema)))
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        return conn

    @contextmanager
    def run(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """The live connection (opened if needed); errors become ours."""
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._open()
                yield self._conn
            except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected) as exc:
                raise ConcurrencyError(
                    f"PostgreSQL store {self.url}: {what} lost a race: {exc}") from exc
            except psycopg.Error as exc:
                broken = self._conn
                if broken is not None and (broken.closed or broken.broken
                                           or isinstance(exc, psycopg.OperationalError)):
                    self._drop()
                raise StoreError(f"PostgreSQL store {self.url}: {what} failed: {exc}") from exc

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(psycopg.Error):
                conn.close()

    def migrate(self, component: str) -> list[int]:
        """Apply the pending migrations of ``component``; return the versions applied."""
        applied: list[int] = []
        with self.run(f"migrating {component}") as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                         (f"telcoflow-migrations-{self.schema or ''}",))
            conn.execute("""CREATE TABLE IF NOT EXISTS telcoflow_migrations (
                component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (component, version))""")
            done = {v for (v,) in conn.execute(
                "SELECT version FROM telcoflow_migrations WHERE component = %s", (component,))}
            for m in MIGRATIONS:
                if m.component != component or m.version in done:
                    continue
                for statement in m.statements:
                    conn.execute(statement.encode())
                conn.execute("INSERT INTO telcoflow_migrations (component, version, name) "
                             "VALUES (%s, %s, %s)", (component, m.version, m.name))
                applied.append(m.version)
        return applied

    def close(self) -> None:
        """Close the connection (a later :meth:`run` opens a new one)."""
        with self._lock:
            self._drop()


# ---------------------------------------------------------------------------- the ledger


class PostgresLedgerStore:
    """A multi-writer :class:`~telcoflow.ledger.LedgerStore` in PostgreSQL.

    ``url`` is ``postgresql://user@host:port/db`` (optionally ``?schema=name``). One store
    instance serves one thread at a time (each worker opens its own).

    :meth:`warm` loads, in one query, the counters and flags *owned* by some accounts and
    subscribers (the second ``|`` field of their key: ``bal|<account>``,
    ``alw|<subscriber>|...``); later reads of owned keys are answered from that snapshot
    until the next :meth:`apply`. Without it, each counter is read when first needed.
    """

    def __init__(self, url: str, *, schema: str | None = None,
                 application_name: str = "telcoflow-ledger") -> None:
        self._pg = PostgresConnection(url, schema=schema, application_name=application_name)
        self._pg.migrate("ledger")
        self._seen_claims: set[str] = set()
        self._owners: set[str] = set()
        self._warm_counters: dict[str, Decimal] = {}
        self._warm_flags: set[str] = set()

    @property
    def url(self) -> str:
        """The database URL (without password)."""
        return self._pg.url

    @property
    def schema(self) -> str | None:
        """The PostgreSQL schema of the tables (``None``: the search path's first)."""
        return self._pg.schema

    # -- reads ------------------------------------------------------------------------
    def get_claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims that exist among ``event_ids`` (one query)."""
        ids = list(dict.fromkeys(event_ids))
        out: dict[str, Claim] = {}
        if not ids:
            return out
        with self._pg.run("reading claims") as conn:
            rows = conn.execute(
                f"SELECT event_id, fingerprint, effects FROM claims WHERE event_id = ANY({_IDS})",
                (_json(ids),)).fetchall()
        for event_id, fp, effects in rows:
            out[event_id] = Claim(event_id, fp, decode_effects(effects))
        self._seen_claims.update(out)
        return out

    def warm(self, owners: Iterable[str]) -> None:
        """Read every counter and flag owned by ``owners`` (account / subscriber ids) at once."""
        new = list(dict.fromkeys(owners))
        self._owners.clear()  # a fresh snapshot: nothing read before is trusted
        self._warm_counters.clear()
        self._warm_flags.clear()
        if not new:
            return
        with self._pg.run("warming counters") as conn:
            rows = conn.execute(
                f"SELECT key, value FROM counters WHERE split_part(key, '|', 2) = ANY({_IDS}) "
                f"UNION ALL SELECT key, NULL FROM flags WHERE split_part(key, '|', 2) = "
                f"ANY({_IDS})", (_json(new), _json(new))).fetchall()
        for key, value in rows:
            if value is None:
                self._warm_flags.add(key)
            else:
                self._warm_counters[key] = value
        self._owners.update(new)

    def _owned(self, key: str) -> bool:
        owners = self._owners
        if not owners:
            return False
        parts = key.split("|", 2)
        return len(parts) > 1 and parts[1] in owners

    def get_counters(self, keys: Iterable[str]) -> dict[str, Decimal]:
        """Current values of the counters that exist among ``keys``."""
        out: dict[str, Decimal] = {}
        ask: list[str] = []
        warm = self._warm_counters
        for key in keys:
            if self._owned(key):
                value = warm.get(key)
                if value is not None:
                    out[key] = value
            else:
                ask.append(key)
        if ask:
            with self._pg.run("reading counters") as conn:
                rows = conn.execute(f"SELECT key, value FROM counters WHERE key = ANY({_IDS})",
                                    (_json(ask),)).fetchall()
            out.update(rows)
        return out

    def get_flags(self, keys: Iterable[str]) -> set[str]:
        """The flags that are set among ``keys``."""
        out: set[str] = set()
        ask: list[str] = []
        for key in keys:
            if self._owned(key):
                if key in self._warm_flags:
                    out.add(key)
            else:
                ask.append(key)
        if ask:
            with self._pg.run("reading flags") as conn:
                rows = conn.execute(f"SELECT key FROM flags WHERE key = ANY({_IDS})",
                                    (_json(ask),)).fetchall()
            out.update(k for (k,) in rows)
        return out

    def _forget(self) -> None:
        self._seen_claims.clear()
        self._owners.clear()
        self._warm_counters.clear()
        self._warm_flags.clear()

    # -- the one write ------------------------------------------------------------------
    def apply(self, changes: ChangeSet) -> None:
        """Apply a change set in one transaction (rows locked in key order, no deadlock
        between batches writing the same lines).

        A claim for an event id that was not read through :meth:`get_claims` before must be
        new; if another writer committed it meanwhile, nothing is written and
        :class:`ConcurrencyError` names the ids (process the batch again: they are now
        duplicates). Claims read before (rerating) are replaced.
        """
        seen, self._seen_claims = self._seen_claims, set()
        self._forget()
        if changes.is_empty():
            return
        ledger = sorted(changes.ledger.items())
        counters = sorted(changes.counters.items())
        fresh = [c for c in changes.claims.values() if c.event_id not in seen]
        replaced = [c for c in changes.claims.values() if c.event_id in seen]
        dead = changes.dead_letters
        with self._pg.run("commit of a batch") as conn, conn.transaction():
            if ledger:
                conn.execute(
                    "INSERT INTO ledger AS l SELECT * FROM json_to_recordset(%s::json) AS "
                    "t(account text, subscriber text, item_type text, period text, "
                    "currency text, amount numeric, quantity numeric) "
                    "ON CONFLICT (account, subscriber, item_type, period, currency) DO UPDATE "
                    "SET amount = l.amount + excluded.amount, "
                    "quantity = l.quantity + excluded.quantity",
                    (_json([{"account": k[0], "subscriber": k[1], "item_type": k[2],
                             "period": k[3], "currency": k[4], "amount": str(a),
                             "quantity": str(q)} for k, (a, q) in ledger]),))
            if counters:
                conn.execute(
                    "INSERT INTO counters AS c SELECT key, value::numeric FROM "
                    "json_each_text(%s::json) AS t(key, value) ORDER BY key "
                    "ON CONFLICT (key) DO UPDATE SET value = c.value + excluded.value",
                    (_json({k: str(v) for k, v in counters}),))
            if changes.flags:
                conn.execute(
                    f"INSERT INTO flags SELECT unnest({_IDS}) ON CONFLICT DO NOTHING",
                    (_json(sorted(changes.flags)),))
            if fresh:
                ids = [c.event_id for c in fresh]
                inserted = conn.execute(
                    "INSERT INTO claims SELECT * FROM json_to_recordset(%s::json) AS "
                    "t(event_id text, fingerprint text, effects text) "
                    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                    (_json([{"event_id": c.event_id, "fingerprint": c.fingerprint,
                             "effects": encode_effects(c.effects)} for c in fresh]),)
                ).fetchall()
                if len(inserted) != len(ids):
                    got = {i for (i,) in inserted}
                    taken = [i for i in ids if i not in got]
                    raise ClaimConflictError(taken)
            if replaced:
                conn.execute(
                    "INSERT INTO claims AS c SELECT * FROM json_to_recordset(%s::json) AS "
                    "t(event_id text, fingerprint text, effects text) "
                    "ON CONFLICT (event_id) DO UPDATE SET "
                    "fingerprint = excluded.fingerprint, effects = excluded.effects",
                    (_json([{"event_id": c.event_id, "fingerprint": c.fingerprint,
                             "effects": encode_effects(c.effects)} for c in replaced]),))
            if dead:
                conn.execute(
                    "INSERT INTO dead_letters (event_id, fingerprint, reason, message, payload) "
                    "SELECT e, f, r, m, p FROM json_to_recordset(%s::json) AS "
                    "d(n integer, e text, f text, r text, m text, p text) ORDER BY n "
                    "ON CONFLICT (event_id, fingerprint) DO NOTHING",
                    (_json([{"n": n, "e": d.event_id, "f": d.fingerprint, "r": d.reason,
                             "m": d.message, "p": d.payload} for n, d in enumerate(dead)]),))

    # -- queries ------------------------------------------------------------------------
    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally filtered, sorted by key."""
        with self._pg.run("reading ledger lines") as conn:
            rows = conn.execute(
                "SELECT account, subscriber, item_type, period, currency, amount, quantity "
                "FROM ledger WHERE (%(a)s::text IS NULL OR account = %(a)s) "
                "AND (%(p)s::text IS NULL OR period = %(p)s) "
                "ORDER BY account COLLATE \"C\", subscriber COLLATE \"C\", "
                "item_type COLLATE \"C\", period COLLATE \"C\", currency COLLATE \"C\"",
                {"a": account, "p": period}).fetchall()
        return [LedgerLine(*row) for row in rows]

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first (one per event id and payload)."""
        with self._pg.run("reading dead letters") as conn:
            rows = conn.execute(
                "SELECT event_id, reason, message, fingerprint, payload FROM dead_letters "
                "ORDER BY seq").fetchall()
        return [DeadLetter(*row) for row in rows]

    def claim_count(self) -> int:
        """How many event ids are claimed."""
        with self._pg.run("counting claims") as conn:
            row = conn.execute("SELECT count(*) FROM claims").fetchone()
        return int(row[0]) if row else 0

    def processed(self, event_ids: Sequence[str]) -> set[str]:
        """The ids among ``event_ids`` that are durably done: claimed or dead-lettered.

        A producer re-publishes the others after losing its bus (e.g. a Redis restart
        without persistence); deduplication by event id makes that safe.
        """
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return set()
        with self._pg.run("reading processed ids") as conn:
            rows = conn.execute(
                "SELECT event_id FROM claims WHERE event_id = ANY(%(i)s) UNION "
                "SELECT event_id FROM dead_letters WHERE event_id = ANY(%(i)s)",
                {"i": ids}).fetchall()
        return {r[0] for r in rows}

    def processed_payloads(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """The ``(event id, fingerprint)`` pairs among ``pairs`` that are durably done:
        claimed or dead-lettered with that very payload (a conflicting copy of an accepted
        id is not done until it is dead-lettered itself)."""
        ids = list(dict.fromkeys(i for i, _ in pairs))
        if not ids:
            return set()
        with self._pg.run("reading processed payloads") as conn:
            rows = conn.execute(
                "SELECT event_id, fingerprint FROM claims WHERE event_id = ANY(%(i)s) UNION "
                "SELECT event_id, fingerprint FROM dead_letters WHERE event_id = ANY(%(i)s)",
                {"i": ids}).fetchall()
        found = {(i, f) for i, f in rows}
        return {p for p in pairs if p in found}

    def close(self) -> None:
        """Close the connection."""
        self._pg.close()




# ---------------------------------------------------------------------- journey instances


class PostgresJourneyStore:
    """Journey instances in PostgreSQL, with optimistic concurrency on ``version``.

    Instances and their transition records are stored as the SQLite backend stores them
    (context as JSON with tagged decimals and dates), so both read the same way.
    """

    def __init__(self, url: str, *, schema: str | None = None,
                 application_name: str = "telcoflow-journeys") -> None:
        self._pg = PostgresConnection(url, schema=schema, application_name=application_name)
        self._pg.migrate("journeys")

    @staticmethod
    def _row(inst: JourneyInstance) -> tuple[Any, ...]:
        # the SQLite backend's encoding, reused: both backends store the very same text
        from telcoflow.journeys.store import SQLiteJourneyStore

        return SQLiteJourneyStore._row(inst)

    @staticmethod
    def _records(inst: JourneyInstance, first: int) -> list[tuple[Any, ...]]:
        from telcoflow.journeys.store import SQLiteJourneyStore

        return SQLiteJourneyStore._records(inst, first)

    def create(self, instance: JourneyInstance) -> None:
        """Add a new instance (``ConcurrencyError`` if its id exists)."""
        self.create_many([instance])

    def create_many(self, instances: Sequence[JourneyInstance]) -> None:
        """Add new instances in one transaction (``ConcurrencyError`` if an id exists)."""
        ids = [i.id for i in instances]
        if len(set(ids)) != len(ids):
            raise ConcurrencyError(f"an instance appears twice in one batch: {ids}")
        rows = []
        records: list[tuple[Any, ...]] = []
        for inst in instances:
            ctx, deadlines, due, memory, outcome, state, version = self._jsonable(inst)
            rows.append((inst.id, inst.journey_id, inst.journey_version, state, ctx, deadlines,
                         due, memory, outcome, version))
            records += self._records(inst, 0)
        if not rows:
            return
        shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
        with self._pg.run(f"creating journey instance(s) {shown}") as conn:
            try:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany("INSERT INTO journey_instances VALUES "
                                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
                    cur.executemany("INSERT INTO journey_records VALUES (%s,%s,%s,%s,%s,%s)",
                                    records)
            except psycopg.errors.UniqueViolation as exc:
                raise ConcurrencyError(f"instance(s) already exist among {shown}") from exc

    def _jsonable(self, instance: JourneyInstance) -> tuple[Any, ...]:
        try:
            return self._row(instance)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"journey instance {instance.id}: cannot store it: {exc}") from exc

    def load(self, instance_id: str) -> JourneyInstance:
        """A private copy of the instance (``StoreError`` if unknown)."""
        with self._pg.run(f"loading journey instance {instance_id}") as conn:
            row = conn.execute(
                "SELECT id, journey_id, journey_version, state, context, deadlines, memory, "
                "outcome, version FROM journey_instances WHERE id = %s",
                (instance_id,)).fetchone()
            if row is None:
                raise StoreError(f"no journey instance {instance_id!r}")
            records = conn.execute(
                "SELECT at, trigger, state, channel FROM journey_records WHERE instance_id = %s "
                "ORDER BY seq", (instance_id,)).fetchall()
        return self._instance(row, records)

    @staticmethod
    def _instance(row: Sequence[Any], records: Sequence[Sequence[Any]]) -> JourneyInstance:
        from telcoflow.journeys.store import SQLiteJourneyStore

        return SQLiteJourneyStore._instance(row, records)

    def save(self, instance: JourneyInstance, expected_version: int) -> None:
        """Write the instance if the stored version is ``expected_version``."""
        self.save_many([(instance, expected_version)])

    def save_many(self, items: Sequence[tuple[JourneyInstance, int]]) -> None:
        """Save several ``(instance, expected_version)`` in one transaction (all or none)."""
        if not items:
            return
        if len({inst.id for inst, _ in items}) != len(items):
            raise ConcurrencyError("an instance appears twice in one batch")
        rows = []
        records: list[tuple[Any, ...]] = []
        for inst, expected in items:
            rows.append((*self._jsonable(inst), inst.journey_version, inst.id, expected))
            records += self._records(inst, expected + 1)
        with self._pg.run("saving journey instances") as conn, conn.transaction():
            for params in rows:
                cur = conn.execute(
                    "UPDATE journey_instances SET context=%s, deadlines=%s, next_due=%s, "
                    "memory=%s, outcome=%s, state=%s, version=%s, journey_version=%s "
                    "WHERE id=%s AND version=%s", params)
                if cur.rowcount != 1:
                    found = conn.execute("SELECT version FROM journey_instances WHERE id = %s",
                                         (params[8],)).fetchone()
                    where = "it does not exist" if found is None else \
                        f"it is at version {found[0]}"
                    raise ConcurrencyError(
                        f"instance {params[8]} was moved by someone else: expected version "
                        f"{params[9]}, {where}")
            if records:
                with conn.cursor() as cur2:
                    cur2.executemany("INSERT INTO journey_records VALUES (%s,%s,%s,%s,%s,%s)",
                                     records)

    def due(self, now: float) -> list[str]:
        """Ids of instances with a deadline due at or before ``now``."""
        with self._pg.run("reading journey deadlines") as conn:
            rows = conn.execute(
                "SELECT id FROM journey_instances WHERE next_due IS NOT NULL AND next_due <= %s "
                "ORDER BY next_due", (now,)).fetchall()
        return [r[0] for r in rows]

    def instances(self, journey_id: str | None = None) -> Iterator[JourneyInstance]:
        """Every stored instance (of one journey, if given)."""
        with self._pg.run("listing journey instances") as conn:
            rows = conn.execute(
                "SELECT id, journey_id, journey_version, state, context, deadlines, memory, "
                "outcome, version FROM journey_instances "
                "WHERE (%(j)s::text IS NULL OR journey_id = %(j)s) ORDER BY id COLLATE \"C\"",
                {"j": journey_id}).fetchall()
            records: dict[str, list[tuple[Any, ...]]] = {}
            for iid, at, trigger, state, channel in conn.execute(
                    "SELECT instance_id, at, trigger, state, channel FROM journey_records "
                    "WHERE instance_id = ANY(%s) ORDER BY instance_id, seq",
                    ([r[0] for r in rows],)):
                records.setdefault(iid, []).append((at, trigger, state, channel))
        for row in rows:
            yield self._instance(row, records.get(row[0], []))

    def __len__(self) -> int:
        with self._pg.run("counting journey instances") as conn:
            row = conn.execute("SELECT count(*) FROM journey_instances").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the connection."""
        self._pg.close()


# --------------------------------------------------------------------------- bill runs


class PostgresBillStore:
    """Finished accounts and bills of bill runs in PostgreSQL (the methods of
    :class:`~telcoflow.billing.cycle.store.BillStore`), safe for many shard workers.

    :meth:`write` claims a batch's accounts and writes their bills in one transaction; an
    account finished by another worker is left alone and reported.
    """

    _FORMATS = ("xml", "html", "json")

    def __init__(self, url: str, *, schema: str | None = None,
                 application_name: str = "telcoflow-billrun") -> None:
        self._pg = PostgresConnection(url, schema=schema, application_name=application_name)
        self._pg.migrate("billrun")
        self.path = self._pg.url

    def finished_accounts(self, cycle: str) -> set[str]:
        """Ids of the accounts finished (billed) for ``cycle``; a skipped account is closed
        again by a rerun (see :meth:`BillStore.finished_accounts
        <telcoflow.billing.cycle.store.BillStore.finished_accounts>`)."""
        with self._pg.run("reading finished accounts") as conn:
            rows = conn.execute("SELECT account_id FROM bill_accounts WHERE cycle = %s "
                                "AND status = 'billed'", (cycle,)).fetchall()
        return {r[0] for r in rows}

    def write(self, cycle: str, finished: Sequence[FinishedAccount]) -> set[str]:
        """Claim and write a batch in one transaction; return the ids that were already
        finished (billed: left alone). A skip recorded earlier is replaced by this outcome."""
        from telcoflow.money import Currency

        if not finished:
            return set()
        now = time.time()
        with self._pg.run("writing a bill-run batch") as conn, conn.transaction():
            ids = sorted(f.account_id for f in finished)
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"bill-run-{cycle}",))
            done = {r[0] for r in conn.execute(
                "SELECT account_id FROM bill_accounts WHERE cycle = %s AND status = 'billed' "
                "AND account_id = ANY(%s)", (cycle, ids))}
            claims: list[tuple[object, ...]] = []
            bills: list[tuple[object, ...]] = []
            for f in finished:
                if f.account_id in done:
                    continue
                if f.bill is not None:
                    b = f.bill
                    exp = Currency.of(b.currency).exponent
                    claims.append((cycle, f.account_id, "billed", None, b.bill_id, b.currency,
                                   b.total, int(b.total.scaleb(exp)), now))
                    docs = dict(f.documents)
                    bills.append((b.bill_id, cycle, f.account_id,
                                  *(_pack(docs.get(fmt)) for fmt in self._FORMATS)))
                else:
                    reason = f.skipped.reason if f.skipped else "unknown"
                    claims.append((cycle, f.account_id, "skipped", reason, None, None, None,
                                   None, now))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO bill_accounts VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT (cycle, account_id) DO UPDATE SET status = EXCLUDED.status, "
                    "reason = EXCLUDED.reason, bill_id = EXCLUDED.bill_id, "
                    "currency = EXCLUDED.currency, total = EXCLUDED.total, "
                    "total_minor = EXCLUDED.total_minor, finished_at = EXCLUDED.finished_at",
                    claims)
                cur.executemany("INSERT INTO bills VALUES (%s,%s,%s,%s,%s,%s)", bills)
        return done

    def totals(self, cycle: str) -> StoreTotals:
        """Bills, skipped accounts and bill totals per currency stored for ``cycle``."""
        from telcoflow.billing.cycle.model import SkippedAccount
        from telcoflow.billing.cycle.store import StoreTotals
        from telcoflow.money import Currency

        with self._pg.run("reading bill-run totals") as conn:
            row = conn.execute("SELECT count(*) FROM bill_accounts WHERE cycle = %s "
                               "AND status = 'billed'", (cycle,)).fetchone()
            skipped = tuple(SkippedAccount(a, r) for a, r in conn.execute(
                "SELECT account_id, reason FROM bill_accounts WHERE cycle = %s "
                "AND status = 'skipped' ORDER BY account_id COLLATE \"C\"", (cycle,)))
            sums = conn.execute(
                "SELECT currency, sum(total_minor) FROM bill_accounts WHERE cycle = %s "
                "AND status = 'billed' GROUP BY currency", (cycle,)).fetchall()
        totals = {cur: Decimal(int(minor)).scaleb(-Currency.of(cur).exponent)
                  for cur, minor in sums}
        return StoreTotals(int(row[0]) if row else 0, skipped, totals)

    def bill_counts(self, cycle: str) -> dict[str, int]:
        """Number of stored bills per account for ``cycle`` (each should be exactly 1)."""
        with self._pg.run("counting bills") as conn:
            rows = conn.execute("SELECT account_id, count(*) FROM bills WHERE cycle = %s "
                                "GROUP BY account_id", (cycle,)).fetchall()
        return {a: int(n) for a, n in rows}

    def document(self, cycle: str, account_id: str, fmt: str = "xml") -> bytes | None:
        """One stored document (``xml``, ``html`` or ``json``) of an account's bill."""
        if fmt not in self._FORMATS:
            raise StoreError(f"document format must be one of {self._FORMATS} (got {fmt!r})")
        with self._pg.run("reading a bill document") as conn:
            row = conn.execute(
                sql.SQL("SELECT {} FROM bills WHERE cycle = %s AND account_id = %s").format(
                    sql.Identifier(fmt)), (cycle, account_id)).fetchone()
        return None if row is None or row[0] is None else zlib.decompress(row[0])

    def documents(self, cycle: str, fmt: str = "xml") -> Iterator[tuple[str, bytes]]:
        """Every stored document of ``fmt`` for ``cycle``: (account id, bytes)."""
        if fmt not in self._FORMATS:
            raise StoreError(f"document format must be one of {self._FORMATS} (got {fmt!r})")
        with self._pg.run("reading bill documents") as conn:
            rows = conn.execute(
                sql.SQL("SELECT account_id, {} FROM bills WHERE cycle = %s "
                        "ORDER BY account_id COLLATE \"C\"").format(sql.Identifier(fmt)),
                (cycle,)).fetchall()
        for account_id, blob in rows:
            if blob is not None:
                yield account_id, zlib.decompress(blob)

    def close(self) -> None:
        """Close the connection."""
        self._pg.close()


def _pack(data: bytes | None) -> bytes | None:
    return None if data is None else zlib.compress(data, 1)
