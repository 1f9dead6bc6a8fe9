"""The PostgreSQL connection of every PostgreSQL store (psycopg 3) and the schema migrations.

Each store creates its tables through numbered migrations (:data:`MIGRATIONS`), recorded in
``telcoflow_migrations`` and applied under an advisory lock, so several workers starting at
once migrate exactly once. A ``schema`` (a URL query parameter ``?schema=name`` or the
argument) keeps one deployment -- or one test -- in its own PostgreSQL schema.

A broken connection (server restarted, backend terminated) is reported as
:class:`~telcoflow.errors.StoreError` once and re-opened on the next call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from telcoflow._optional import requires
from telcoflow.errors import ConcurrencyError, StoreError
from telcoflow.privacy import redact_url

with requires("postgres", "the PostgreSQL stores"):
    import psycopg
    from psycopg import sql

__all__ = [
    "ANY_IDS",
    "MIGRATIONS",
    "Migration",
    "PostgresConnection",
    "compact_json",
    "split_postgres_url",
]

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
#: a JSON array of texts as a PostgreSQL array (parameters travel as one JSON text: json.dumps
#: is C code, much cheaper than dumping a Python list element by element)
ANY_IDS = "ARRAY(SELECT json_array_elements_text(%s::json))"


def compact_json(value: object) -> str:
    """``value`` as compact JSON text (a query parameter)."""
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




class PostgresConnection:
    """One psycopg connection that re-opens itself after a failure, in a schema.

    Every use goes through :meth:`run` (``with conn.run("what") as c:``), which translates
    psycopg errors into :class:`StoreError` (and serialization failures / deadlocks into
    :class:`ConcurrencyError`) and drops a broken connection so the next call reconnects.
    """

    def __init__(self, url: str, *, schema: str | None = None, connect_timeout: float = 10.0,
                 application_name: str = "telcoflow") -> None:
        conninfo, url_schema = split_postgres_url(url)
        self.url = redact_url(url)
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


