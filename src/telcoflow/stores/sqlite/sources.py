"""The SQLite sources of a bill run: the real-time ledger file and an account directory.

:class:`SQLiteLedger` is a :class:`~telcoflow.billing.cycle.sources.LedgerReader` of the file
a :class:`~telcoflow.stores.sqlite.ledger.SQLiteLedgerStore` writes (the same ``ledger``
table, :data:`~telcoflow.stores.sqlite.ledger.LEDGER_TABLE`); :class:`SQLiteAccounts` is an
:class:`~telcoflow.billing.cycle.sources.AccountDirectory`. Both open by path, so that a bill
run's worker processes can each open their own; :func:`sqlite_job` builds a bill run over
SQLite files (what ``telcoflow bill-run`` runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from telcoflow.billing.cycle.model import BillCycle, BillingAccount
from telcoflow.billing.cycle.policy import load_close_policy
from telcoflow.billing.cycle.run import BillRunJob
from telcoflow.billing.cycle.sources import LedgerRow, account_from_json, account_to_json
from telcoflow.errors import DefinitionError
from telcoflow.ledger import LedgerLine
from telcoflow.loading.catalog import load_catalog
from telcoflow.stores.sqlite.bills import SQLiteBillStore
from telcoflow.stores.sqlite.connection import connect as _connect
from telcoflow.stores.sqlite.connection import transaction as _tx
from telcoflow.stores.sqlite.ledger import LEDGER_TABLE, recover

__all__ = ["SQLiteAccounts", "SQLiteLedger", "sqlite_job"]


class SQLiteLedger:
    """Read (batch per account range) the ledger file of
    :class:`~telcoflow.stores.sqlite.ledger.SQLiteLedgerStore`: same table ``ledger``, same schema.

    The store keeps its lines in memory and answers ``lines(account=...)`` by scanning them;
    a close over millions of accounts needs indexed batch reads instead, which this reader
    does on the store's primary key (account first). Amounts and quantities are decimal text.
    :meth:`write` prepares ledgers in tests and benchmarks (the real-time path writes through
    its ledger store).
    """

    SCHEMA = LEDGER_TABLE

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if Path(path).exists():  # a writer that died between checkpoints: fold its journal
            recover(path)
        self._conn = _connect(path)
        self._conn.execute(self.SCHEMA)

    def write(self, lines: Iterable[LedgerLine]) -> None:
        """Insert (or replace) ledger lines in one transaction."""
        with _tx(self._conn):
            self._conn.executemany(
                "INSERT OR REPLACE INTO ledger VALUES (?,?,?,?,?,?,?)",
                ((ln.account, ln.subscriber, ln.item_type, ln.period, ln.currency,
                  str(ln.amount), str(ln.quantity)) for ln in lines))

    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally for one account and / or one period, sorted by key."""
        rows = self._conn.execute(
            "SELECT * FROM ledger WHERE (?1 IS NULL OR account=?1) AND "
            "(?2 IS NULL OR period=?2) ORDER BY account, subscriber, item_type, period, currency",
            (account, period))
        return [_line(r) for r in rows]

    def lines_for_accounts(
        self, period: str, account_ids: Sequence[str]
    ) -> dict[str, list[LedgerLine]]:
        """The period's lines of each of ``account_ids`` (a sorted batch), in one range query."""
        out: dict[str, list[LedgerLine]] = {a: [] for a in account_ids}
        if not account_ids:
            return out
        rows = self._conn.execute(
            "SELECT * FROM ledger WHERE account BETWEEN ? AND ? AND period=?",
            (min(account_ids), max(account_ids), period))
        for r in rows:
            bucket = out.get(r[0])
            if bucket is not None:
                bucket.append(_line(r))
        return out

    def rows_for_accounts(
        self, period: str, account_ids: Sequence[str]
    ) -> dict[str, list[LedgerRow]]:
        """The period's lines of each of ``account_ids`` (a sorted batch) as
        :data:`LedgerRow` tuples, in one range query: what a bill run reads (the same lines
        as :meth:`lines_for_accounts`, without building a :class:`LedgerLine` for each)."""
        out: dict[str, list[LedgerRow]] = {a: [] for a in account_ids}
        if not account_ids:
            return out
        bucket_of = out.get
        rows = self._conn.execute(
            "SELECT account, subscriber, item_type, currency, amount, quantity FROM ledger "
            "WHERE account BETWEEN ? AND ? AND period=?",
            (min(account_ids), max(account_ids), period))
        for account, subscriber, item_type, currency, amount, quantity in rows:
            bucket = bucket_of(account)
            if bucket is not None:
                bucket.append((subscriber, item_type, currency, Decimal(amount),
                               Decimal(quantity)))
        return out

    def update_amount(self, line: LedgerLine, amount: Decimal) -> None:
        """Overwrite one line's amount (what an audit must catch when done by hand)."""
        with _tx(self._conn):
            self._conn.execute(
                "UPDATE ledger SET amount=? WHERE period=? AND account=? AND subscriber=? "
                "AND item_type=? AND currency=?",
                (str(amount), line.period, line.account, line.subscriber, line.item_type,
                 line.currency))

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _line(r: Sequence[Any]) -> LedgerLine:
    return LedgerLine(r[0], r[1], r[2], r[3], r[4], Decimal(r[5]), Decimal(r[6]))


class SQLiteAccounts:
    """Billing accounts in a SQLite file (table ``billing_accounts``: id, cycle day, JSON)."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS billing_accounts (
        account_id TEXT PRIMARY KEY, cycle_day INTEGER NOT NULL, data TEXT NOT NULL
    ) WITHOUT ROWID
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn = _connect(path)
        self._conn.execute(self.SCHEMA)
        self._conn.execute(
            "CREATE INDEX IF NOT EXISTS billing_accounts_bcd ON billing_accounts (cycle_day)")

    def write(self, accounts: Iterable[BillingAccount]) -> None:
        """Insert (or replace) accounts in one transaction."""
        with _tx(self._conn):
            self._conn.executemany(
                "INSERT OR REPLACE INTO billing_accounts VALUES (?,?,?)",
                ((a.account_id, a.cycle_day, account_to_json(a)) for a in accounts))

    def account_ids(self, cycle_day: int) -> list[str]:
        """Ids of the accounts billed on ``cycle_day``, sorted."""
        rows = self._conn.execute(
            "SELECT account_id FROM billing_accounts WHERE cycle_day=? ORDER BY account_id",
            (cycle_day,))
        return [r[0] for r in rows]

    def get_accounts(self, account_ids: Sequence[str]) -> list[BillingAccount]:
        """The accounts among ``account_ids`` (a sorted batch), in one range query."""
        if not account_ids:
            return []
        wanted = set(account_ids)
        rows = self._conn.execute(
            "SELECT account_id, data FROM billing_accounts WHERE account_id BETWEEN ? AND ?",
            (min(account_ids), max(account_ids)))
        found = {r[0]: r[1] for r in rows if r[0] in wanted}
        return [account_from_json(found[a]) for a in account_ids if a in found]

    def iter_all(self) -> Iterator[BillingAccount]:
        """Every account."""
        for (data,) in self._conn.execute("SELECT data FROM billing_accounts"):
            yield account_from_json(data)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def sqlite_job(
    *,
    policy: str | Path,
    ledger: str | Path,
    accounts: str | Path,
    store: str | Path,
    cycle_day: int,
    year: int,
    month: int,
    formats: Sequence[str] = ("xml", "html"),
    batch_size: int = 500,
) -> BillRunJob:
    """A job over SQLite files: the close policy YAML, the ledger (the real-time store's
    file), the account directory and the bill store (what ``telcoflow bill-run`` needs).
    The catalog the policy names is loaded here, once, so that its problems are reported
    before any worker starts."""
    close_policy = load_close_policy(policy)
    if not close_policy.catalog:
        raise DefinitionError(
            f"{policy}: the close policy names no `catalog` (plan fees, taxes and discounts "
            "come from it): add `catalog: path/to/catalog.yaml` (relative to the policy)")
    return BillRunJob(
        cycle=BillCycle.for_month(cycle_day, year, month), policy=close_policy,
        catalog=load_catalog(*close_policy.catalog),
        ledger=partial(SQLiteLedger, str(ledger)), accounts=partial(SQLiteAccounts, str(accounts)),
        store=partial(SQLiteBillStore, str(store)), formats=frozenset(formats),
        batch_size=batch_size)
