"""What a close reads: ledger lines and billing accounts, behind two small read-only protocols.

:class:`LedgerReader` is a subset of :class:`telcoflow.ledger.LedgerStore` (its ``lines``
query), so any ledger store is a reader as it is. :class:`AccountDirectory` lists the accounts
of a bill cycle day and fetches them in batches. Both have a memory version here; the SQLite
ones (:mod:`telcoflow.stores.sqlite.sources`) open by path, so that a bill run's worker
processes can each open their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from telcoflow.accounts import AccountProfile
from telcoflow.billing.cycle.model import (
    BillingAccount,
    Member,
    PayerRule,
    Subscription,
    new_record,
)
from telcoflow.ledger import LedgerLine, top_up_key

__all__ = [
    "AccountDirectory",
    "LedgerReader",
    "LedgerRow",
    "MemoryAccounts",
    "MemoryLedger",
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

    def close(self) -> None:
        """Release what the reader holds (a connection); the bill run calls it when done."""
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

    def close(self) -> None:
        """Release what the directory holds (a connection); the bill run calls it when done."""
        ...


def lines_by_account(
    ledger: LedgerReader, period: str, account_ids: Sequence[str]
) -> Mapping[str, list[LedgerLine]]:
    """The period's ledger lines of each account; one batch query when the reader has one.

    A reader may offer ``lines_for_accounts(period, account_ids)`` (as
    :class:`~telcoflow.stores.sqlite.sources.SQLiteLedger` does) to fetch a batch in one query;
    otherwise ``lines`` is asked account by account.
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
    account_ids)`` (as :class:`~telcoflow.stores.sqlite.sources.SQLiteLedger` does), else
    from :func:`lines_by_account`.
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

    def close(self) -> None:
        """Nothing to release."""


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

    def close(self) -> None:
        """Nothing to release."""


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
