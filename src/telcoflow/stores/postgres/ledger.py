"""The PostgreSQL ledger store (psycopg 3): many workers writing at once.

:class:`PostgresLedgerStore` is a :class:`~telcoflow.ledger.LedgerStore`. Ledger and
counter changes are *deltas* added in SQL (``amount = ledger.amount + excluded.amount``),
so workers never overwrite each other's sums. A batch's claims are inserted in the same
transaction as its ledger writes; a claim that another worker committed first (the same
event delivered twice, e.g. after a stream entry was reclaimed) makes the whole batch roll
back with :class:`~telcoflow.errors.ConcurrencyError`: processing it again finds the claim
and treats the event as a duplicate, so nothing is charged twice.

Amounts are ``NUMERIC`` (exact decimals, returned as :class:`~decimal.Decimal`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal

from telcoflow.errors import ClaimConflictError
from telcoflow.ledger import (
    ChangeSet,
    Claim,
    DeadLetter,
    LedgerLine,
    decode_effects,
    encode_effects,
)
from telcoflow.stores.postgres.connection import ANY_IDS as _IDS
from telcoflow.stores.postgres.connection import PostgresConnection
from telcoflow.stores.postgres.connection import compact_json as _json

__all__ = ["PostgresLedgerStore"]


class _ThreadState(threading.local):
    """What one thread read since its last apply: claims seen, the warm snapshot."""

    def __init__(self) -> None:
        self.seen_claims: set[str] = set()
        self.owners: set[str] = set()
        self.warm_counters: dict[str, Decimal] = {}
        self.warm_flags: set[str] = set()



class PostgresLedgerStore:
    """A multi-writer :class:`~telcoflow.ledger.LedgerStore` in PostgreSQL.

    ``url`` is ``postgresql://user@host:port/db`` (optionally ``?schema=name``). One store
    may be shared by threads: they take turns on its one connection (a lock), and what a
    thread read before its :meth:`apply` (claims, the :meth:`warm` snapshot) is kept per
    thread. Workers that need parallel commits open one store each.

    :meth:`warm` loads, in one query, the counters and flags *owned* by some accounts and
    subscribers (the second ``|`` field of their key: ``bal|<account>``,
    ``alw|<subscriber>|...``); later reads of owned keys are answered from that snapshot
    until the next :meth:`apply`. Without it, each counter is read when first needed.
    """

    def __init__(self, url: str, *, schema: str | None = None,
                 application_name: str = "telcoflow-ledger") -> None:
        self._pg = PostgresConnection(url, schema=schema, application_name=application_name)
        self._pg.migrate("ledger")
        self._local = _ThreadState()

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
        self._local.seen_claims.update(out)
        return out

    def warm(self, owners: Iterable[str]) -> None:
        """Read every counter and flag owned by ``owners`` (account / subscriber ids) at once."""
        new = list(dict.fromkeys(owners))
        self._local.owners.clear()  # a fresh snapshot: nothing read before is trusted
        self._local.warm_counters.clear()
        self._local.warm_flags.clear()
        if not new:
            return
        with self._pg.run("warming counters") as conn:
            rows = conn.execute(
                f"SELECT key, value FROM counters WHERE split_part(key, '|', 2) = ANY({_IDS}) "
                f"UNION ALL SELECT key, NULL FROM flags WHERE split_part(key, '|', 2) = "
                f"ANY({_IDS})", (_json(new), _json(new))).fetchall()
        for key, value in rows:
            if value is None:
                self._local.warm_flags.add(key)
            else:
                self._local.warm_counters[key] = value
        self._local.owners.update(new)

    def _owned(self, key: str) -> bool:
        owners = self._local.owners
        if not owners:
            return False
        parts = key.split("|", 2)
        return len(parts) > 1 and parts[1] in owners

    def get_counters(self, keys: Iterable[str]) -> dict[str, Decimal]:
        """Current values of the counters that exist among ``keys``."""
        out: dict[str, Decimal] = {}
        ask: list[str] = []
        warm = self._local.warm_counters
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
                if key in self._local.warm_flags:
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
        self._local.seen_claims.clear()
        self._local.owners.clear()
        self._local.warm_counters.clear()
        self._local.warm_flags.clear()

    # -- the one write ------------------------------------------------------------------
    def apply(self, changes: ChangeSet) -> None:
        """Apply a change set in one transaction (rows locked in key order, no deadlock
        between batches writing the same lines).

        A claim for an event id that was not read through :meth:`get_claims` before must be
        new; if another writer committed it meanwhile, nothing is written and
        :class:`ConcurrencyError` names the ids (process the batch again: they are now
        duplicates). Claims read before (rerating) are replaced.
        """
        seen, self._local.seen_claims = self._local.seen_claims, set()
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




