"""The SQLite bill store: a bill run's finished accounts and their bills, in one SQLite file.

Each batch is written in one ``BEGIN IMMEDIATE`` transaction that first *claims* the batch's
accounts (their ``(cycle, account)`` key is the primary key of ``bill_accounts``; an account
already billed is left alone, a skip recorded by an earlier run is replaced) and then writes
the bills of the accounts it claimed. A crash loses at most the batch in flight (rolled back,
redone by the rerun); no account is ever billed twice, and only a bill finishes an account.
Documents are stored as they were rendered (compressing each small document costs more CPU
than rendering it; compress the file or the backups instead).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

from telcoflow.billing.cycle.model import SkippedAccount
from telcoflow.billing.cycle.store import FinishedAccount, StoreTotals
from telcoflow.errors import StoreError
from telcoflow.money import Currency
from telcoflow.stores.sqlite.connection import connect as _connect
from telcoflow.stores.sqlite.connection import transaction as _tx

__all__ = ["SQLiteBillStore"]

_FORMATS = ("xml", "html", "json")


class SQLiteBillStore:
    """A :class:`~telcoflow.billing.cycle.store.BillStore` in a SQLite file: finished
    accounts and bills of bill runs (safe across processes)."""

    SCHEMA = (
        """CREATE TABLE IF NOT EXISTS bill_accounts (
            cycle TEXT NOT NULL, account_id TEXT NOT NULL, status TEXT NOT NULL,
            reason TEXT, bill_id TEXT, currency TEXT, total TEXT, total_minor INTEGER,
            finished_at REAL NOT NULL, PRIMARY KEY (cycle, account_id)) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS bills (
            bill_id TEXT PRIMARY KEY, cycle TEXT NOT NULL, account_id TEXT NOT NULL,
            xml BLOB, html BLOB, json BLOB)""",
    )

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn = _connect(path)
        try:
            with _tx(self._conn):
                for stmt in self.SCHEMA:
                    self._conn.execute(stmt)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create the bill store schema in {path}: {exc}") from exc

    def finished_accounts(self, cycle: str) -> set[str]:
        """Ids of the accounts finished for ``cycle``: closed with their charges, a bill.

        A skipped account (no charges, no subscribers) is recorded but not finished: a rerun
        closes it again, so charges that reach the ledger later (events recovered after a
        writer crash) are billed.
        """
        rows = self._conn.execute(
            "SELECT account_id FROM bill_accounts WHERE cycle=? AND status='billed'", (cycle,))
        return {r[0] for r in rows}

    def write(self, cycle: str, finished: Sequence[FinishedAccount]) -> set[str]:
        """Claim and write a batch in one transaction; return the ids that were already
        finished (billed: left alone). A skip recorded earlier is replaced by this outcome."""
        if not finished:
            return set()
        ids = [f.account_id for f in finished]
        now = time.time()
        with _tx(self._conn) as conn:
            done: set[str] = set()
            for start in range(0, len(ids), 900):
                part = ids[start:start + 900]
                marks = ",".join("?" * len(part))
                sql = ("SELECT account_id FROM bill_accounts WHERE cycle=? AND status='billed' "
                       f"AND account_id IN ({marks})")
                done.update(r[0] for r in conn.execute(sql, (cycle, *part)))
            claims: list[tuple[object, ...]] = []
            bills: list[tuple[object, ...]] = []
            exponents: dict[str, int] = {}
            for f in finished:
                if f.account_id in done:
                    continue
                if f.bill is not None:
                    b = f.bill
                    exp = exponents.get(b.currency)
                    if exp is None:
                        exp = exponents[b.currency] = Currency.of(b.currency).exponent
                    claims.append((cycle, f.account_id, "billed", None, b.bill_id, b.currency,
                                   str(b.total), int(b.total.scaleb(exp)), now))
                    docs = dict(f.documents)
                    bills.append((b.bill_id, cycle, f.account_id,
                                  docs.get("xml"), docs.get("html"), docs.get("json")))
                else:
                    reason = f.skipped.reason if f.skipped else "unknown"
                    claims.append((cycle, f.account_id, "skipped", reason, None, None, None,
                                   None, now))
            conn.executemany("INSERT OR REPLACE INTO bill_accounts VALUES (?,?,?,?,?,?,?,?,?)",
                             claims)
            conn.executemany("INSERT INTO bills VALUES (?,?,?,?,?,?)", bills)
        return done

    def totals(self, cycle: str) -> StoreTotals:
        """Bills, skipped accounts and bill totals per currency stored for ``cycle``."""
        conn = self._conn
        bills = conn.execute("SELECT COUNT(*) FROM bill_accounts WHERE cycle=? AND status='billed'",
                             (cycle,)).fetchone()[0]
        skipped = tuple(SkippedAccount(a, r) for a, r in conn.execute(
            "SELECT account_id, reason FROM bill_accounts WHERE cycle=? AND status='skipped' "
            "ORDER BY account_id", (cycle,)))
        totals = {}
        for cur, minor in conn.execute(
                "SELECT currency, SUM(total_minor) FROM bill_accounts WHERE cycle=? AND "
                "status='billed' GROUP BY currency", (cycle,)):
            totals[cur] = Decimal(minor).scaleb(-Currency.of(cur).exponent)
        return StoreTotals(bills, skipped, totals)

    def bill_counts(self, cycle: str) -> dict[str, int]:
        """Number of stored bills per account for ``cycle`` (each should be exactly 1)."""
        return dict(self._conn.execute(
            "SELECT account_id, COUNT(*) FROM bills WHERE cycle=? GROUP BY account_id", (cycle,)))

    def document(self, cycle: str, account_id: str, fmt: str = "xml") -> bytes | None:
        """One stored document (``xml``, ``html`` or ``json``) of an account's bill."""
        if fmt not in _FORMATS:
            raise StoreError(f"document format must be one of {_FORMATS} (got {fmt!r})")
        row = self._conn.execute(
            f"SELECT {fmt} FROM bills WHERE cycle=? AND account_id=?", (cycle, account_id)
        ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def documents(self, cycle: str, fmt: str = "xml") -> Iterator[tuple[str, bytes]]:
        """Every stored document of ``fmt`` for ``cycle``: (account id, bytes)."""
        if fmt not in _FORMATS:
            raise StoreError(f"document format must be one of {_FORMATS} (got {fmt!r})")
        for account_id, blob in self._conn.execute(
                f"SELECT account_id, {fmt} FROM bills WHERE cycle=? ORDER BY account_id", (cycle,)):
            if blob is not None:
                yield account_id, bytes(blob)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
