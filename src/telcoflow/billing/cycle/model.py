"""The bill and what a cycle close reads: bill cycles, billing accounts, ledger lines.

Hot-path value objects are not pydantic models: a bill run builds millions of them, and they
are built by our own code from validated inputs (the close policy, which *is* read from YAML,
is a pydantic model: :mod:`.policy`). The records read or built per account (accounts,
subscriptions, payer rules, bill lines, taxes, payer parts, discounts, the position) are
:class:`typing.NamedTuple` s: immutable, and built as one tuple (a frozen slotted dataclass
sets each field through ``object.__setattr__``, about six times slower to build, which was a
tenth of the close); the cycle, the bill and a skip, which check or compare by type, are frozen
``dataclass(slots=True)``.

Amounts on a bill are :class:`~decimal.Decimal` in the bill's single ``currency`` (a bill never
mixes currencies); :meth:`Bill.money` wraps any of them as :class:`~telcoflow.money.Money`.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import Decimal
from operator import add, eq, itemgetter, sub
from typing import Any, NamedTuple

from telcoflow.errors import ArgumentError, MoneyError
from telcoflow.money import Money
from telcoflow.periods import ONE_DAY, cycle_bounds

__all__ = [
    "AccountPosition",
    "Bill",
    "BillCycle",
    "BillLine",
    "BillingAccount",
    "DiscountApplied",
    "Member",
    "MemberCharge",
    "PayerPart",
    "PayerRule",
    "SkippedAccount",
    "Subscription",
    "TaxSummary",
    "BILL_KINDS",
    "USAGE_ITEM_TYPES",
    "check_bill",
]

#: What a cycle document is: ``bill`` (something to pay), ``statement`` (a prepaid account:
#: paid from its balance, nothing due), ``payer`` (a payer of a split: what it pays for its
#: members).
BILL_KINDS: frozenset[str] = frozenset({"bill", "statement", "payer"})

#: Item types that count as consumption (usage); others are fees.
USAGE_ITEM_TYPES: frozenset[str] = frozenset({"voice", "data", "sms", "slice"})

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BillCycle:
    """One bill cycle: starts on the bill cycle day, ends the day before the next one.

    ``key`` (the start date, ISO) is the ledger ``period`` the cycle closes.

    >>> c = BillCycle.for_month(1, 2026, 11)
    >>> (c.key, str(c.end), c.days, str(c.bill_date))
    ('2026-11-01', '2026-11-30', 30, '2026-12-01')
    """

    cycle_day: int
    start: date
    end: date

    def __post_init__(self) -> None:
        if not 1 <= self.cycle_day <= 31:
            raise ArgumentError(f"`cycle_day` must be 1..31 (got {self.cycle_day})")
        if self.end < self.start:
            raise ArgumentError(f"cycle end {self.end} is before its start {self.start}")

    @classmethod
    def for_month(cls, cycle_day: int, year: int, month: int) -> BillCycle:
        """The cycle starting on ``cycle_day`` of ``year-month`` (clamped to the month's end)."""
        start, nxt = cycle_bounds(
            date(year, month, min(cycle_day, calendar.monthrange(year, month)[1])), cycle_day)
        return cls(cycle_day, start, nxt - ONE_DAY)  # ``end`` is the cycle's last day

    @property
    def key(self) -> str:
        """The ledger period key of this cycle (its start date, ISO 8601)."""
        return self.start.isoformat()

    @property
    def days(self) -> int:
        """Number of days in the cycle (both ends inclusive)."""
        return (self.end - self.start).days + 1

    @property
    def bill_date(self) -> date:
        """The day bills of this cycle are issued (the day after it ends)."""
        return self.end + timedelta(days=1)


class Subscription(NamedTuple):
    """A subscriber on a plan, held from ``start`` to ``end`` (inclusive; open when None)."""

    subscriber_id: str
    plan_id: str
    start: date | None = None
    end: date | None = None
    msisdn: str = ""

    def days_held(self, cycle: BillCycle) -> int:
        """Days of ``cycle`` this subscription was held (0 when outside it)."""
        first = max(cycle.start, self.start) if self.start else cycle.start
        last = min(cycle.end, self.end) if self.end else cycle.end
        return max(0, (last - first).days + 1)


class PayerRule(NamedTuple):
    """A payer that covers the gross charges of some item types, optionally up to ``cap``.

    Rules apply in order; whatever no rule covers falls to the account holder.
    """

    payer_id: str
    item_types: frozenset[str]
    cap: Decimal | None = None


class Member(NamedTuple):
    """A member account whose charges a payer account (corporate, family head, parent) pays,
    with the subscriber ids under it (how the payer's ledger lines are told apart)."""

    account_id: str
    subscribers: tuple[str, ...] = ()
    name: str = ""
    #: the plan (catalog offering) of each subscriber, in order, when known: the payer's
    #: lines for it are then described and taxed by that plan, as the member's would be
    plans: tuple[str, ...] = ()


class BillingAccount(NamedTuple):
    """The account data a close needs (a TMF666 billing account, reduced).

    ``previous_balance``, ``payments`` and ``adjustments`` are the account position since the
    last bill (payments reduce, adjustments add: a goodwill credit is a negative adjustment).
    ``coupons`` are codes held; ``redeemed_coupons`` those already used (once-only coupons).
    ``payers`` say who pays which item types of this account (``paid_by`` on its bill lines);
    ``members`` are the accounts this one pays for (a payer document lists them).
    A ``prepaid`` account pays from its balance (``opening_balance`` at the cycle start,
    ``top_ups`` during the cycle) every item type not in ``postpaid_items`` (a hybrid account
    bills those); its cycle document is a statement.
    """

    account_id: str
    name: str
    currency: str
    cycle_day: int = 1
    subscriptions: tuple[Subscription, ...] = ()
    jurisdiction: str = "default"
    locale: str = "en_GB"
    previous_balance: Decimal = _ZERO
    payments: Decimal = _ZERO
    adjustments: Decimal = _ZERO
    coupons: tuple[str, ...] = ()
    redeemed_coupons: frozenset[str] = frozenset()
    payers: tuple[PayerRule, ...] = ()
    address: tuple[str, ...] = ()
    members: tuple[Member, ...] = ()
    prepaid: bool = False
    postpaid_items: frozenset[str] = frozenset()
    opening_balance: Decimal = _ZERO
    top_ups: Decimal = _ZERO


class BillLine(NamedTuple):
    """One bill line: a subscriber's charges of one item type, rounded at the line.

    ``net = amount - discount``, ``tax`` is the line's share of the tax (see
    :class:`~telcoflow.rating.tax.TaxRules`), ``gross = net + tax``. ``paid_by`` is
    the account paying the line when it is not the account billed: a payer of the split
    (its id), or ``balance`` (a prepaid account's balance paid it); empty otherwise.

    ``tax_included``: the line's tax category is inclusive, so the ledger held the price
    with the tax inside: ``tax`` is extracted from it and ``amount`` is the price less that
    tax (``amount + tax`` is what the ledger held; ``gross`` the price less the discount).
    """

    line_no: int
    subscriber_id: str
    item_type: str
    description: str
    quantity: Decimal
    unit: str
    amount: Decimal
    discount: Decimal
    net: Decimal
    tax_category: str
    tax_rate: Decimal
    tax: Decimal
    gross: Decimal
    paid_by: str = ""
    tax_included: bool = False

    @property
    def ledger_amount(self) -> Decimal:
        """What the line carries of the ledger: its amount, plus its tax when the price held
        it (``tax_included``)."""
        return self.amount + self.tax if self.tax_included else self.amount


class MemberCharge(NamedTuple):
    """On a payer's document: what it pays for one member's subscriber and item type."""

    member_id: str
    subscriber_id: str
    item_type: str
    net: Decimal
    tax: Decimal
    gross: Decimal


class DiscountApplied(NamedTuple):
    """An end-of-cycle discount given on the bill (already spread over its lines)."""

    discount_id: str
    description: str
    amount: Decimal
    coupon: str | None = None


class TaxSummary(NamedTuple):
    """Tax of one category and rate: the sum of the (already rounded) line taxes."""

    category: str
    rate: Decimal
    base: Decimal
    amount: Decimal


class PayerPart(NamedTuple):
    """The share of the bill total a payer owes; parts sum exactly to the total."""

    payer_id: str
    amount: Decimal


class AccountPosition(NamedTuple):
    """Previous balance - payments + adjustments + this bill = amount due, by ``due_date``."""

    previous_balance: Decimal
    payments: Decimal
    adjustments: Decimal
    bill_total: Decimal
    amount_due: Decimal
    due_date: date


@dataclass(frozen=True, slots=True)
class SkippedAccount:
    """An account that got no document, with the reason (``no-charges``: nothing in the ledger
    for the cycle, no balance movement; ``no-subscribers``: no subscription, no member, no
    ledger line)."""

    account_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Bill:
    """A closed cycle document. Invariant: ``total = subtotal - discount_total + tax_total``
    and ``total`` is the sum of the lines' gross amounts (checked when built).

    ``kind`` (:data:`BILL_KINDS`): ``bill``; ``statement`` for a prepaid account (its lines
    are paid from the balance: ``closing_balance = opening_balance + top_ups -
    paid_from_balance``, nothing due); ``payer`` for a payer of a split, whose ``members``
    list what it pays per member. ``ledger_total`` is the sum of the ledger lines the
    document was built from, as read (unrounded, tax lines included), ``ledger_tax`` the
    real-time tax estimate among them; the document's tax is the catalog rule's figure, which
    replaces it: ``total = ledger_total - ledger_tax + tax_total - close_discount_total +
    rounding`` (see docs/cycle-close.md).
    """

    bill_id: str
    account_id: str
    account_name: str
    cycle: BillCycle
    currency: str
    locale: str
    lines: tuple[BillLine, ...]
    discounts: tuple[DiscountApplied, ...]
    taxes: tuple[TaxSummary, ...]
    payer_parts: tuple[PayerPart, ...]
    position: AccountPosition
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal
    redeemed_coupons: tuple[str, ...] = ()
    address: tuple[str, ...] = ()
    subscribers: tuple[str, ...] = field(default=())
    kind: str = "bill"
    members: tuple[MemberCharge, ...] = ()
    opening_balance: Decimal | None = None
    top_ups: Decimal = _ZERO
    paid_from_balance: Decimal = _ZERO
    closing_balance: Decimal | None = None
    ledger_tax: Decimal = _ZERO
    ledger_total: Decimal = _ZERO

    def __post_init__(self) -> None:
        problems = check_bill(self)
        if problems:
            raise MoneyError(f"bill {self.bill_id} is inconsistent: " + "; ".join(problems))

    @property
    def bill_date(self) -> date:
        """The issue date (the day after the cycle ends)."""
        return self.cycle.bill_date

    @property
    def close_discount_total(self) -> Decimal:
        """The discounts decided at the close (the catalog's), not already in the ledger."""
        return sum((d.amount for d in self.discounts if d.discount_id != "realtime"), _ZERO)

    @property
    def rounding(self) -> Decimal:
        """What rounding the ledger's amounts to the line (and its real-time discounts)
        added: ``total - (ledger_total - ledger_tax + tax_total - included_tax -
        close_discount_total)``; at most half a minor unit per line and per real-time
        discount."""
        return self.total - (self.ledger_total - self.ledger_tax + self.tax_total
                             - self.included_tax - self.close_discount_total)

    @property
    def included_tax(self) -> Decimal:
        """The tax extracted from prices that held it (lines with ``tax_included``)."""
        return sum((ln.tax for ln in self.lines if ln.tax_included), _ZERO)

    @property
    def amount_due(self) -> Decimal:
        """What the account holder owes for this document (its position's amount due)."""
        return self.position.amount_due

    def money(self, amount: Decimal) -> Money:
        """``amount`` as :class:`Money` in the bill's currency."""
        return Money(amount, self.currency)


#: Builds a record (one of the NamedTuples above) from the tuple of all its fields, in order,
#: without the NamedTuple's own ``__new__`` (a Python function taking each field as an
#: argument): for the close and the account reader, which build millions of them.
new_record: Any = tuple.__new__


#: The slot setters of :class:`Bill`, in field order (see :func:`bill_built_consistent`).
_BILL_SETTERS: tuple[Any, ...] = tuple(getattr(Bill, f.name).__set__ for f in fields(Bill))


def bill_built_consistent(*values: Any) -> Bill:
    """A :class:`Bill` from all its fields, in order, without running :func:`check_bill`.

    Only for a builder whose bills add up by construction: the cycle close works out each
    line's net and gross, the bill's totals and its tax summaries in one pass over the lines,
    and gives the account holder what the other payers do not pay, so adding it all up again
    (two thirds of the cost of building a bill, a fifth of a close) could only find a bug in
    that one loop; the close checks itself what it does not build in that pass (the
    discounts it lists sum to the lines' discounts; the totals add up). Every other bill is
    checked when built.
    """
    bill: Bill = object.__new__(Bill)
    for set_field, value in zip(_BILL_SETTERS, values, strict=True):
        set_field(bill, value)
    return bill


_AMOUNT_OF_DISCOUNT = itemgetter(2)  # DiscountApplied.amount
_AMOUNT_OF_TAX = itemgetter(3)  # TaxSummary.amount
_AMOUNT_OF_PART = itemgetter(1)  # PayerPart.amount


def check_bill(bill: Bill) -> list[str]:
    """Every arithmetic inconsistency of ``bill`` (empty when it adds up).

    Runs for every bill built, so the usual case (it adds up) is a few C loops over the line
    columns and one comparison of the totals; the messages are built only for a bill that
    does not add up.
    """
    lines = bill.lines
    lines_ok = True
    if lines:
        columns = tuple(zip(*lines, strict=True))
        amounts, discounts, nets, taxes, grosses = (
            columns[6], columns[7], columns[8], columns[11], columns[12])
        lines_ok = (all(map(eq, nets, map(sub, amounts, discounts)))
                    and all(map(eq, grosses, map(add, nets, taxes))))
        subtotal, discount_total = sum(amounts, _ZERO), sum(discounts, _ZERO)
        tax_total, total = sum(taxes, _ZERO), sum(grosses, _ZERO)
    else:
        subtotal = discount_total = tax_total = total = _ZERO
    discounts_sum = (sum(map(_AMOUNT_OF_DISCOUNT, bill.discounts), _ZERO) if bill.discounts
                     else _ZERO)
    taxes_sum = sum(map(_AMOUNT_OF_TAX, bill.taxes), _ZERO)
    parts_sum = sum(map(_AMOUNT_OF_PART, bill.payer_parts), _ZERO)
    statement_ok = True
    if bill.kind not in BILL_KINDS:
        statement_ok = False
    elif bill.opening_balance is not None or bill.closing_balance is not None:
        statement_ok = (bill.opening_balance is not None and bill.closing_balance is not None
                        and bill.closing_balance == bill.opening_balance + bill.top_ups
                        - bill.paid_from_balance)
    if (statement_ok and lines_ok and bill.subtotal == subtotal
            and bill.discount_total == discount_total
            and bill.tax_total == tax_total and bill.total == total
            and total == subtotal - discount_total + tax_total
            and discounts_sum == discount_total and taxes_sum == tax_total
            and parts_sum == total):
        return []
    problems: list[str] = []
    if bill.kind not in BILL_KINDS:
        problems.append(f"kind is {bill.kind!r}, expected one of {sorted(BILL_KINDS)}")
    elif not statement_ok:
        problems.append(
            f"closing balance {bill.closing_balance} != opening {bill.opening_balance} + "
            f"top-ups {bill.top_ups} - paid from balance {bill.paid_from_balance}")
    if not lines_ok:
        for ln in lines:
            if ln.net != ln.amount - ln.discount:
                problems.append(f"line {ln.line_no}: net {ln.net} != {ln.amount} - {ln.discount}")
            if ln.gross != ln.net + ln.tax:
                problems.append(f"line {ln.line_no}: gross {ln.gross} != {ln.net} + {ln.tax}")
    checks = (
        ("subtotal", bill.subtotal, subtotal),
        ("discount_total", bill.discount_total, discount_total),
        ("tax_total", bill.tax_total, tax_total),
        ("total", bill.total, total),
        ("total", bill.total, bill.subtotal - bill.discount_total + bill.tax_total),
        ("discounts", bill.discount_total, discounts_sum),
        ("taxes", bill.tax_total, taxes_sum),
        ("payer parts", bill.total, parts_sum),
    )
    for name, found, expected in checks:
        if found != expected:
            problems.append(f"{name} is {found}, expected {expected}")
    return problems
