"""What a close reads: ledger lines and billing accounts, behind two small read-only protocols.

:class:`LedgerReader` is a subset of :class:`telcoflow.ledger.LedgerStore` (its ``lines``
query), so any ledger store is a reader as it is. :class:`AccountDirectory` lists the accounts
of a bill cycle day and fetches them in batches. Both have a memory and a SQLite version here;
the SQLite ones open by path, so that a bill run's worker processes can each open their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from telcoflow.accounts import AccountProfile
from telcoflow.billing.cycle._sqlite import connect as _connect
from telcoflow.billing.cycle._sqlite import transaction as _tx
from telcoflow.billing.cycle.model import (
    BillingAccount,
    Member,
    PayerRule,
    Subscription,
    new_record,
)
from telcoflow.ledger import LedgerLine, top_up_key
from telcoflow.stores.sqlite import recover

__all__ = [
    "AccountDirectory",
    "LedgerReader",
    "LedgerRow",
    "MemoryAccounts",
    "MemoryLedger",
    "SqliteAccounts",
    "SqliteLedger",
    "account_from_json",
    "account_to_json",
    "accounts_from_profiles",
    "lines_by_account",
    "rows_by_account",
]

#: One ledger line of the period being closed, as :meth:`CycleCloser.close_rows
#: <telcoflow.billing.cycle.close.CycleCloser.close_rows>` reads it:
#: ``(subscriber, item_type, currency, amount, quantity)``.
LedgerRow = tuple[str, str, str, Decimal, Decimal]


@runtime_checkable
class LedgerReader(Protocol):
    """Read ledger lines (the ``lines`` query of a ledger store)."""

    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally for one account and / or one period."""
        ...


@runtime_checkable
class AccountDirectory(Protocol):
    """Billing accounts: ids per bill cycle day (sorted) and batch fetch."""

    def account_ids(self, cycle_day: int) -> list[str]:
        """Ids of the accounts billed on ``cycle_day``, sorted."""
        ...

    def get_accounts(self, account_ids: Sequence[str]) -> list[BillingAccount]:
        """The accounts among ``account_ids`` (in that order; unknown ids are left out)."""
        ...


def lines_by_account(
    ledger: LedgerReader, period: str, account_ids: Sequence[str]
) -> Mapping[str, list[LedgerLine]]:
    """The period's ledger lines of each account; one batch query when the reader has one.

    A reader may offer ``lines_for_accounts(period, account_ids)`` (as :class:`SqliteLedger`
    does) to fetch a batch in one query; otherwise ``lines`` is asked account by account.
    """
    batch = getattr(ledger, "lines_for_accounts", None)
    if batch is not None:
        result: Mapping[str, list[LedgerLine]] = batch(period, account_ids)
        return result
    return {a: ledger.lines(account=a, period=period) for a in account_ids}


def rows_by_account(
    ledger: LedgerReader, period: str, account_ids: Sequence[str]
) -> Mapping[str, Sequence[LedgerRow]]:
    """The period's ledger lines of each account as :data:`LedgerRow` tuples (what a bill run
    closes from): one batch query when the reader offers ``rows_for_accounts(period,
    account_ids)`` (as :class:`SqliteLedger` does), else from :func:`lines_by_account`.
    """
    batch = getattr(ledger, "rows_for_accounts", None)
    if batch is not None:
        result: Mapping[str, Sequence[LedgerRow]] = batch(period, account_ids)
        return result
    return {
        a: [(ln.subscriber, ln.item_type, ln.currency, ln.amount, ln.quantity)
            for ln in lines if ln.period == period]
        for a, lines in lines_by_account(ledger, period, account_ids).items()}


class MemoryLedger:
    """An in-memory ledger reader (tests, examples)."""

    def __init__(self, lines: Iterable[LedgerLine] = ()) -> None:
        self._lines: list[LedgerLine] = list(lines)

    def add(self, line: LedgerLine) -> None:
        """Add one ledger line."""
        self._lines.append(line)

    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally for one account and / or one period."""
        return sorted(
            (ln for ln in self._lines
             if (account is None or ln.account == account)
             and (period is None or ln.period == period)),
            key=lambda ln: (ln.account, ln.subscriber, ln.item_type, ln.period, ln.currency))


class MemoryAccounts:
    """An in-memory account directory."""

    def __init__(self, accounts: Iterable[BillingAccount] = ()) -> None:
        self._by_id = {a.account_id: a for a in accounts}

    def account_ids(self, cycle_day: int) -> list[str]:
        """Ids of the accounts billed on ``cycle_day``, sorted."""
        return sorted(a.account_id for a in self._by_id.values() if a.cycle_day == cycle_day)

    def get_accounts(self, account_ids: Sequence[str]) -> list[BillingAccount]:
        """The accounts among ``account_ids``."""
        return [self._by_id[a] for a in account_ids if a in self._by_id]


class SqliteLedger:
    """Read (batch per account range) the ledger file of
    :class:`telcoflow.stores.sqlite.SQLiteLedgerStore`: same table ``ledger``, same schema.

    The store keeps its lines in memory and answers ``lines(account=...)`` by scanning them;
    a close over millions of accounts needs indexed batch reads instead, which this reader
    does on the store's primary key (account first). Amounts and quantities are decimal text.
    :meth:`write` prepares ledgers in tests and benchmarks (the real-time path writes through
    its ledger store).
    """

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS ledger (
        account TEXT NOT NULL, subscriber TEXT NOT NULL, item_type TEXT NOT NULL,
        period TEXT NOT NULL, currency TEXT NOT NULL, amount TEXT NOT NULL,
        quantity TEXT NOT NULL,
        PRIMARY KEY (account, subscriber, item_type, period, currency)
    ) WITHOUT ROWID
    """

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


def account_to_json(account: BillingAccount) -> str:
    """Serialize an account as compact JSON (decimals and dates as strings)."""
    d: dict[str, Any] = {
        "id": account.account_id, "name": account.name, "cur": account.currency,
        "bcd": account.cycle_day, "jur": account.jurisdiction, "loc": account.locale,
        "subs": [[s.subscriber_id, s.plan_id, s.start and s.start.isoformat(),
                  s.end and s.end.isoformat(), s.msisdn] for s in account.subscriptions],
    }
    if account.previous_balance or account.payments or account.adjustments:
        d["pos"] = [str(account.previous_balance), str(account.payments), str(account.adjustments)]
    if account.coupons or account.redeemed_coupons:
        d["cpn"] = [list(account.coupons), sorted(account.redeemed_coupons)]
    if account.payers:
        d["pay"] = [[p.payer_id, sorted(p.item_types), None if p.cap is None else str(p.cap)]
                    for p in account.payers]
    if account.address:
        d["adr"] = list(account.address)
    if account.members:
        d["mem"] = [[m.account_id, list(m.subscribers), m.name, list(m.plans)]
                    for m in account.members]
    if account.prepaid or account.postpaid_items:
        d["pre"] = [account.prepaid, sorted(account.postpaid_items),
                    str(account.opening_balance), str(account.top_ups)]
    return json.dumps(d, separators=(",", ":"))


_ZERO = Decimal(0)
_NO_REDEEMED: frozenset[str] = frozenset()


def account_from_json(text: str) -> BillingAccount:
    """Read an account written by :func:`account_to_json`."""
    d = json.loads(text)
    pos = d.get("pos")
    cpn = d.get("cpn")
    pay = d.get("pay")
    mem = d.get("mem")
    pre = d.get("pre")
    fromiso = date.fromisoformat
    subscriptions = tuple([
        new_record(Subscription, (s[0], s[1], None if s[2] is None else fromiso(s[2]),
                                  None if s[3] is None else fromiso(s[3]), s[4]))
        for s in d["subs"]])
    fields = (
        d["id"], d["name"], d["cur"], d["bcd"], subscriptions, d["jur"], d["loc"],
        *((Decimal(pos[0]), Decimal(pos[1]), Decimal(pos[2])) if pos is not None
          else (_ZERO, _ZERO, _ZERO)),
        *((tuple(cpn[0]), frozenset(cpn[1])) if cpn is not None else ((), _NO_REDEEMED)),
        tuple([PayerRule(p[0], frozenset(p[1]), None if p[2] is None else Decimal(p[2]))
               for p in pay]) if pay else (),
        tuple(d.get("adr", ())),
        tuple([new_record(Member, (m[0], tuple(m[1]), m[2], tuple(m[3]))) for m in mem])
        if mem else (),
        *((bool(pre[0]), frozenset(pre[1]), Decimal(pre[2]), Decimal(pre[3])) if pre
          else (False, _NO_REDEEMED, _ZERO, _ZERO)),
    )
    account: BillingAccount = new_record(BillingAccount, fields)
    return account


class SqliteAccounts:
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


def accounts_from_profiles(
    profiles: Iterable[AccountProfile],
    subscriptions: Mapping[str, Sequence[Subscription]],
    *,
    period: str,
    counters: Mapping[str, Decimal] | None = None,
    names: Mapping[str, str] | None = None,
) -> list[BillingAccount]:
    """The billing accounts of real-time account profiles, for the close of ``period``.

    From each profile: its split (``payers``: the payer pays the split's item types, every
    item type when the split names none), the accounts whose split names it (``members``,
    with their subscribers), prepaid and hybrid funding (``prepaid``, ``postpaid_items``)
    and, from the real-time store's ``counters`` (``get_counters`` of
    :func:`~telcoflow.ledger.top_up_key`), the period's top-ups. The opening
    balance is 0 (a balance carried from the previous cycle is the host's to give).
    """

    accounts = list(profiles)
    counters = counters or {}
    names = names or {}
    members: dict[str, list[Member]] = {}
    for a in accounts:
        if a.split is not None:
            held = subscriptions.get(a.id, ())
            members.setdefault(a.split.payer, []).append(new_record(Member, (
                a.id, tuple([s.subscriber_id for s in held]), names.get(a.id, ""),
                tuple([s.plan_id for s in held]))))
    out = []
    for a in accounts:
        split = a.split
        payers = ((PayerRule(split.payer, split.item_types or _EVERY_ITEM, split.cap),)
                  if split is not None else ())
        out.append(BillingAccount(
            a.id, names.get(a.id, a.id), a.currency, cycle_day=a.bill_cycle_day,
            subscriptions=tuple(subscriptions.get(a.id, ())), payers=payers,
            members=tuple(members.get(a.id, ())), prepaid=a.prepaid,
            postpaid_items=a.postpaid_items,
            top_ups=counters.get(top_up_key(a.id, period), _ZERO) if a.prepaid else _ZERO))
    return out


#: Every item type a split without ``item_types`` moves (what a ledger line may be).
_EVERY_ITEM: frozenset[str] = frozenset({
    "voice", "data", "sms", "slice", "roaming", "recurring", "one_time", "device",
    "external", "benefit"})
