"""Journey instances in PostgreSQL (psycopg 3), with optimistic concurrency on ``version``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from telcoflow._optional import requires
from telcoflow.errors import ConcurrencyError, StoreError
from telcoflow.journeys.encoding import instance_from_row, instance_records, instance_row
from telcoflow.journeys.instance import JourneyInstance
from telcoflow.stores.postgres.connection import PostgresConnection

with requires("postgres", "the PostgreSQL stores"):
    import psycopg

__all__ = ["PostgresJourneyStore"]



class PostgresJourneyStore:
    """Journey instances in PostgreSQL, with optimistic concurrency on ``version``.

    Instances and their transition records are stored as the SQLite backend stores them
    (context as JSON with tagged decimals and dates), so both read the same way.
    """

    def __init__(self, url: str, *, schema: str | None = None,
                 application_name: str = "telcoflow-journeys") -> None:
        self._pg = PostgresConnection(url, schema=schema, application_name=application_name)
        self._pg.migrate("journeys")

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
            records += instance_records(inst, 0)
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
            return instance_row(instance)
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
        return instance_from_row(row, records)

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
            records += instance_records(inst, expected + 1)
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
            yield instance_from_row(row, records.get(row[0], []))

    def __len__(self) -> int:
        with self._pg.run("counting journey instances") as conn:
            row = conn.execute("SELECT count(*) FROM journey_instances").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the connection."""
        self._pg.close()


