"""The bill-run state (finished accounts and their bills) in PostgreSQL (psycopg 3)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator, Sequence
from decimal import Decimal

from telcoflow._optional import requires
from telcoflow.billing.cycle.model import SkippedAccount
from telcoflow.billing.cycle.store import FinishedAccount, StoreTotals
from telcoflow.errors import StoreError
from telcoflow.money import Currency
from telcoflow.stores.postgres.connection import PostgresConnection

with requires("postgres", "the PostgreSQL stores"):
    from psycopg import sql

__all__ = ["PostgresBillStore"]



class PostgresBillStore:
    """Finished accounts and bills of bill runs in PostgreSQL (a
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
        again by a rerun (see :meth:`SQLiteBillStore.finished_accounts
        <telcoflow.stores.sqlite.bills.SQLiteBillStore.finished_accounts>`)."""
        with self._pg.run("reading finished accounts") as conn:
            rows = conn.execute("SELECT account_id FROM bill_accounts WHERE cycle = %s "
                                "AND status = 'billed'", (cycle,)).fetchall()
        return {r[0] for r in rows}

    def write(self, cycle: str, finished: Sequence[FinishedAccount]) -> set[str]:
        """Claim and write a batch in one transaction; return the ids that were already
        finished (billed: left alone). A skip recorded earlier is replaced by this outcome."""
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
