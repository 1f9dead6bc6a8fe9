"""Cycle close: one account's ledger lines for a cycle -> one :class:`Bill` (or a skip).

Steps, in order (each amount is rounded once, where it leaves, at the bill line):

1. no subscriptions -> skipped ``no-subscribers``; no ledger charge in the period -> skipped
   ``no-charges`` (bills only where there was consumption);
2. ledger lines become bill lines (one per subscriber and item type, rounded); the real-time
   path's ``tax`` lines are left out (the close taxes each bill line itself) and its
   ``discount`` lines (negative) are spread over the subscriber's lines as one ``realtime``
   discount;
3. recurring fees are finalized: each subscription's plan fee, prorated by days held, unless
   the ledger already carries that subscriber's ``recurring`` line for the period;
4. end-of-cycle discounts (thresholds, caps, plan conditions, once-only coupons), each spread
   pro rata over the lines it covers (largest remainder: parts sum exactly to the discount);
5. minimum spend: a top-up line when the net spend is below the plans' commitments;
6. taxes per line (rounded per line; the bill's tax is the sum of line taxes);
7. the bill split between payers (parts sum exactly to the total) and the account position.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from telcoflow.billing.cycle.model import (
    AccountPosition,
    Bill,
    BillCycle,
    BillingAccount,
    BillLine,
    DiscountApplied,
    PayerPart,
    SkippedAccount,
    TaxSummary,
    bill_built_consistent,
    new_record,
)
from telcoflow.billing.cycle.policy import ClosePolicy, DiscountSpec
from telcoflow.billing.cycle.sources import LedgerRow
from telcoflow.errors import CurrencyMismatchError, MoneyError, RatingError
from telcoflow.money import Currency
from telcoflow.stores.base import LedgerLine

__all__ = ["DEFAULT_DESCRIPTIONS", "DEFAULT_UNITS", "CycleCloser", "allocate", "close_account"]

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

#: Line descriptions per item type when the policy does not name one.
DEFAULT_DESCRIPTIONS: dict[str, str] = {
    "voice": "Voice calls", "data": "Mobile data", "sms": "Text messages",
    "slice": "Network slice usage", "recurring": "Monthly plan fee",
    "one_time": "One-time charges", "external": "Partner charges",
    "minimum_spend": "Minimum spend top-up",
}
#: Quantity units per item type when the policy does not name one.
DEFAULT_UNITS: dict[str, str] = {
    "voice": "second", "data": "MB", "sms": "message", "slice": "hour",
    "recurring": "day", "one_time": "unit", "external": "unit", "minimum_spend": "unit",
}


class _Line:
    """A bill line being built (mutable until taxes are applied)."""

    __slots__ = ("amount", "category", "description", "discount", "item_type", "order",
                 "quantity", "subscriber_id", "unit")

    def __init__(self, subscriber_id: str, item_type: str, description: str, quantity: Decimal,
                 unit: str, amount: Decimal, category: str, rank: int) -> None:
        self.subscriber_id = subscriber_id
        self.item_type = item_type
        self.description = description
        self.quantity = quantity
        self.unit = unit
        self.amount = amount
        self.discount = _ZERO
        self.category = category
        # bill line order: per subscriber (account-level lines last), fees before usage
        self.order = (not subscriber_id, subscriber_id, rank, item_type)


def _order(w: _Line) -> tuple[bool, str, int, str]:
    return w.order


class _Discount:
    """A discount spec prepared for one currency's minor unit (done once per closer)."""

    __slots__ = ("amount", "applies_to", "cap", "coupon", "description", "id", "percent",
                 "plans", "threshold", "value")

    def __init__(self, spec: DiscountSpec, quantum: Decimal, mode: str) -> None:
        self.id = spec.id
        self.description = spec.description or spec.id
        self.applies_to = frozenset(spec.applies_to) if spec.applies_to else None
        self.threshold = spec.threshold
        self.percent = spec.kind == "percentage"
        self.value = spec.value
        self.amount = spec.value.quantize(quantum, mode)  # a fixed discount, rounded
        self.cap = None if spec.cap is None else spec.cap.quantize(quantum, mode)
        self.plans = frozenset(spec.plans)
        self.coupon = spec.coupon


class CycleCloser:
    """Closes accounts for one cycle under one policy (configured once, called per account).

    What does not change from one account to the next is worked out here, once: the cycle's
    ledger period, days and due date, each item type's description, unit, tax category and
    rank, the plans, the discounts rounded to each currency's minor unit, the tax rates of
    each jurisdiction.
    """

    __slots__ = ("_days", "_days_held", "_discounts", "_due", "_full_fees", "_items", "_key",
                 "_mode", "_plans", "_quanta", "_rates", "_taxes", "cycle", "policy")

    def __init__(self, policy: ClosePolicy, cycle: BillCycle) -> None:
        self.policy = policy
        self.cycle = cycle
        self._key = cycle.key
        self._days = cycle.days
        self._days_held = Decimal(self._days)  # the quantity of a whole cycle's plan fee
        self._mode = policy.rounding.decimal_mode
        self._due = cycle.bill_date + timedelta(policy.payment_terms_days)
        self._rates: dict[tuple[str, str], Decimal] = {}
        self._taxes: dict[str, dict[str, tuple[Decimal, Decimal | None]]] = {}
        self._quanta: dict[str, Decimal] = {}
        self._items: dict[str, tuple[str, str, str, int]] = {}
        self._discounts: dict[Decimal, list[_Discount]] = {}
        self._full_fees: dict[Decimal, dict[str, Decimal]] = {}  # quantum -> plan -> fee
        recurring = policy.descriptions.get("recurring") or DEFAULT_DESCRIPTIONS["recurring"]
        unit = policy.units.get("recurring", "day")
        self._plans = {
            plan_id: (plan.fee, plan.description or recurring, unit, plan.tax_category,
                      plan.minimum_spend)
            for plan_id, plan in policy.plans.items()}

    def rate(self, jurisdiction: str, category: str) -> Decimal:
        """The tax rate (percent) of ``category`` in ``jurisdiction`` (cached)."""
        key = (jurisdiction, category)
        rate = self._rates.get(key)
        if rate is None:
            rate = self._rates[key] = self.policy.tax_rate(jurisdiction, category)
        return rate

    def _tax_of(self, jurisdiction: str, category: str) -> tuple[Decimal, Decimal | None]:
        """The rate of ``category`` in ``jurisdiction`` and, unless it is zero, ``rate / 100``:
        a line's tax ``net * rate / 100`` is then one multiplication, ``net * (rate / 100)``,
        with the very same result (the fraction has the rate's digits, so the product rounds
        as ``net * rate`` does, and dividing by 100 only moves the exponent)."""
        rate = self.rate(jurisdiction, category)
        return rate, (rate / _HUNDRED if rate else None)

    def quantum(self, currency: str) -> Decimal:
        """The minor unit of ``currency`` (cached)."""
        q = self._quanta.get(currency)
        if q is None:
            q = self._quanta[currency] = Currency.of(currency).quantum
        return q

    def _item(self, item: str) -> tuple[str, str, str, int]:
        """(description, unit, tax category, rank) of a ledger item type."""
        info = self._items.get(item)
        if info is None:
            policy = self.policy
            info = self._items[item] = (
                policy.descriptions.get(item) or DEFAULT_DESCRIPTIONS.get(item, item),
                policy.units.get(item) or DEFAULT_UNITS.get(item, "unit"),
                policy.tax_categories.get(item, "telecom"), _RANK.get(item, 7))
        return info

    def __call__(
        self, account: BillingAccount, lines: Iterable[LedgerLine]
    ) -> Bill | SkippedAccount:
        """Close ``account``: its bill, or why it gets none (see :func:`close_account`)."""
        period = self._key
        return self.close_rows(account, [
            (ln.subscriber, ln.item_type, ln.currency, ln.amount, ln.quantity)
            for ln in lines if ln.period == period])

    def close_rows(
        self, account: BillingAccount, rows: Iterable[LedgerRow]
    ) -> Bill | SkippedAccount:
        """Close ``account`` from its ledger lines of this cycle's period, given as
        :data:`~telcoflow.billing.cycle.sources.LedgerRow` tuples ``(subscriber, item_type,
        currency, amount, quantity)`` (what a bill run reads: no :class:`LedgerLine` per
        line); otherwise the same as calling the closer."""
        if not account.subscriptions:
            return SkippedAccount(account.account_id, "no-subscribers")
        currency = account.currency
        sums: dict[tuple[str, str], list[Decimal]] = {}
        realtime_discounts: dict[str, Decimal] = {}
        for subscriber, item, line_currency, amount, quantity in rows:
            if not amount and not quantity:
                continue
            if item == "tax":  # the real-time estimate; the close taxes each bill line
                continue
            if line_currency != currency:
                raise CurrencyMismatchError(
                    f"ledger line {subscriber}/{item} of account {account.account_id} "
                    f"is in {line_currency}, expected the account currency {currency}")
            if item == "discount":  # given in real time: a negative amount
                realtime_discounts[subscriber] = (
                    realtime_discounts.get(subscriber, _ZERO) - amount)
                continue
            key = (subscriber, item)
            acc = sums.get(key)
            if acc is None:
                sums[key] = [amount, quantity]
            else:
                acc[0] += amount
                acc[1] += quantity
        if not sums:
            return SkippedAccount(account.account_id, "no-charges")

        quantum = self._quanta.get(currency) or self.quantum(currency)
        mode = self._mode
        items = self._items
        work: list[_Line] = []
        for (sub, item), (amount, quantity) in sorted(sums.items()):
            info = items.get(item) or self._item(item)
            work.append(_Line(sub, item, info[0], quantity, info[1],
                              amount.quantize(quantum, mode), info[2], info[3]))

        discounts = (_realtime_discounts(work, realtime_discounts, quantum, mode)
                     if realtime_discounts else [])

        # recurring fees, prorated by days held
        cycle = self.cycle
        cycle_days = self._days
        full_fees = self._full_fees.get(quantum)
        if full_fees is None:
            full_fees = self._full_fees[quantum] = {
                plan_id: plan[0].quantize(quantum, mode) for plan_id, plan in self._plans.items()}
        commitment = _ZERO
        plans_held: set[str] = set()
        for s in account.subscriptions:
            days = (cycle_days if s.start is None and s.end is None else s.days_held(cycle))
            if days <= 0:
                continue
            plan = self._plans.get(s.plan_id)
            if plan is None:
                raise RatingError(
                    f"subscription {s.subscriber_id} of account {account.account_id} is on plan "
                    f"{s.plan_id!r}, which the close policy does not define "
                    f"(known: {sorted(self.policy.plans)})")
            fee, description, unit, category, minimum_spend = plan
            plans_held.add(s.plan_id)
            if minimum_spend is not None:
                commitment += minimum_spend
            if (s.subscriber_id, "recurring") in sums:
                continue
            if days == cycle_days:
                work.append(_Line(s.subscriber_id, "recurring", description, self._days_held,
                                  unit, full_fees[s.plan_id], category, 0))
            else:
                work.append(_Line(s.subscriber_id, "recurring", description, Decimal(days), unit,
                                  (fee * days / cycle_days).quantize(quantum, mode), category, 0))

        specs = self._discounts.get(quantum)
        if specs is None:
            specs = self._discounts[quantum] = [
                _Discount(d, quantum, mode) for d in self.policy.discounts]
        if specs:
            discounts.extend(_apply_discounts(account, work, specs, plans_held, quantum, mode))

        if commitment:
            spend = _ZERO
            for w in work:
                spend += w.amount - w.discount
            if spend < commitment:
                info = self._item("minimum_spend")
                work.append(_Line("", "minimum_spend", info[0], Decimal(1), "unit",
                                  (commitment - spend).quantize(quantum, mode), info[2], info[3]))

        return self._finish(account, work, discounts, quantum, mode)

    def _finish(self, account: BillingAccount, work: list[_Line],
                discounts: Sequence[DiscountApplied], quantum: Decimal, mode: str) -> Bill:
        lines: list[BillLine] = []
        # per tax category: [rate, base, tax] (one jurisdiction per bill: one rate per category)
        tax_groups: dict[str, list[Decimal]] = {}
        subtotal = discount_total = tax_total = total = _ZERO
        zero_tax = _ZERO * quantum
        jurisdiction = account.jurisdiction
        taxes_of = self._taxes.get(jurisdiction)
        if taxes_of is None:
            taxes_of = self._taxes[jurisdiction] = {}
        work.sort(key=_order)
        for line_no, w in enumerate(work, 1):
            category = w.category
            tax_of = taxes_of.get(category)
            if tax_of is None:
                tax_of = taxes_of[category] = self._tax_of(jurisdiction, category)
            rate, fraction = tax_of
            amount, discount = w.amount, w.discount
            net = amount - discount
            tax = zero_tax if fraction is None else (net * fraction).quantize(quantum, mode)
            gross = net + tax
            lines.append(new_record(BillLine, (
                line_no, w.subscriber_id, w.item_type, w.description, w.quantity, w.unit,
                amount, discount, net, category, rate, tax, gross, "")))
            grp = tax_groups.get(category)
            if grp is None:
                tax_groups[category] = [rate, net, tax]
            else:
                grp[1] += net
                grp[2] += tax
            subtotal += amount
            discount_total += discount
            tax_total += tax
            total += gross
        taxes = tuple([new_record(TaxSummary, (c, r, b, t))
                       for c, (r, b, t) in sorted(tax_groups.items())])

        account_id = account.account_id
        if account.payers:
            parts = _split(account, lines, total, quantum, mode)
        else:
            parts = (new_record(PayerPart, (account_id, total)),)

        previous, payments, adjustments = (
            account.previous_balance, account.payments, account.adjustments)
        position = new_record(AccountPosition, (
            previous, payments, adjustments, total, previous - payments + adjustments + total,
            self._due))
        # what the loop above does not build: the discounts listed sum to the lines' ones
        # (allocation), and the totals add up (no rounding in the sums); the rest of
        # check_bill holds by construction (see bill_built_consistent)
        listed = _ZERO
        for d in discounts:
            listed += d.amount
        if listed != discount_total or total != subtotal - discount_total + tax_total:
            raise MoneyError(
                f"bill {account_id}-{self._key} is inconsistent: discounts listed {listed}, "
                f"on the lines {discount_total}; total {total} for subtotal {subtotal}, "
                f"discounts {discount_total} and tax {tax_total}")
        return bill_built_consistent(
            f"{account_id}-{self._key}", account_id, account.name, self.cycle,
            account.currency, account.locale, tuple(lines), tuple(discounts), taxes, parts,
            position, subtotal, discount_total, tax_total, total,
            tuple([d.coupon for d in discounts if d.coupon]) if discounts else (),
            account.address, tuple([s.subscriber_id for s in account.subscriptions]),
            "bill", (), None, _ZERO, _ZERO, None, _ZERO)


_RANK = {"recurring": 0, "one_time": 1, "voice": 2, "data": 3, "sms": 4, "slice": 5,
         "external": 8, "minimum_spend": 9}


def _split(account: BillingAccount, lines: Sequence[BillLine], total: Decimal,
           quantum: Decimal, mode: str) -> tuple[PayerPart, ...]:
    """The payers' parts of ``total`` (each rule in order, capped), the rest to the holder."""
    parts: list[PayerPart] = []
    assigned = _ZERO
    taken: set[int] = set()
    for rule in account.payers:
        covered = _ZERO
        for ln in lines:
            if ln.line_no not in taken and ln.item_type in rule.item_types:
                taken.add(ln.line_no)
                covered += ln.gross
        if rule.cap is not None:
            covered = min(covered, rule.cap.quantize(quantum, mode))
        if covered > 0:
            parts.append(PayerPart(rule.payer_id, covered))
            assigned += covered
    parts.append(PayerPart(account.account_id, total - assigned))
    return tuple(parts)


def close_account(
    account: BillingAccount,
    lines: Iterable[LedgerLine],
    cycle: BillCycle,
    policy: ClosePolicy,
) -> Bill | SkippedAccount:
    """Close ``account`` for ``cycle``: its bill, or why it gets none.

    ``lines`` are the account's ledger lines; only those of period ``cycle.key`` count.
    Raises :class:`~telcoflow.errors.CurrencyMismatchError` when a ledger line is not in the
    account's currency and :class:`~telcoflow.errors.RatingError` for an unknown plan.
    For many accounts, build one :class:`CycleCloser` and call it per account.
    """
    return CycleCloser(policy, cycle)(account, lines)


def _realtime_discounts(work: list[_Line], given: dict[str, Decimal], quantum: Decimal,
                        mode: str) -> list[DiscountApplied]:
    """Ledger ``discount`` lines (given in real time, per subscriber) spread over that
    subscriber's lines (all lines when it has none), never beyond what they cover."""
    total = _ZERO
    for sub, amount in sorted(given.items()):
        amount = amount.quantize(quantum, mode)
        covered = [w for w in work if w.subscriber_id == sub and w.amount - w.discount > 0]
        if not covered:
            covered = [w for w in work if w.amount - w.discount > 0]
        base = sum((w.amount - w.discount for w in covered), _ZERO)
        amount = min(amount, base)
        if amount <= 0:
            continue
        for w, part in zip(covered, allocate(amount, [w.amount - w.discount for w in covered],
                                             quantum), strict=True):
            w.discount += part
        total += amount
    if not total:
        return []
    return [DiscountApplied("realtime", "Discounts given during the cycle", total)]


def _apply_discounts(account: BillingAccount, work: list[_Line], specs: Sequence[_Discount],
                     plans_held: set[str], quantum: Decimal,
                     mode: str) -> list[DiscountApplied]:
    out: list[DiscountApplied] = []
    for spec in specs:
        if spec.plans and plans_held.isdisjoint(spec.plans):
            continue
        coupon = spec.coupon
        if coupon is not None and (coupon not in account.coupons
                                   or coupon in account.redeemed_coupons):
            continue  # once only: needs the coupon, not yet redeemed
        applies_to = spec.applies_to
        covered: list[_Line] = []
        weights: list[Decimal] = []
        base = _ZERO
        for w in work:
            if applies_to is None or w.item_type in applies_to:
                left = w.amount - w.discount
                if left > 0:
                    covered.append(w)
                    weights.append(left)
                    base += left
        if base <= 0 or base < spec.threshold:
            continue
        if spec.percent:
            amount = (base * spec.value / _HUNDRED).quantize(quantum, mode)
        else:
            amount = spec.amount
        if spec.cap is not None:
            amount = min(amount, spec.cap)
        amount = min(amount, base)
        if amount <= 0:
            continue
        if len(covered) == 1:
            covered[0].discount += amount
        else:
            for w, part in zip(covered, allocate(amount, weights, quantum), strict=True):
                w.discount += part
        out.append(DiscountApplied(spec.id, spec.description, amount, coupon))
    return out


def allocate(amount: Decimal, weights: Sequence[Decimal], quantum: Decimal) -> list[Decimal]:
    """Split ``amount`` (a multiple of ``quantum``) in proportion to ``weights`` (> 0) so that
    the parts, each a multiple of ``quantum``, sum exactly to it (largest remainder first,
    first-listed first on ties).

    >>> allocate(Decimal("1.00"), [Decimal(1)] * 3, Decimal("0.01"))
    [Decimal('0.34'), Decimal('0.33'), Decimal('0.33')]
    """
    if len(weights) == 1:
        return [amount]
    total = sum(weights, _ZERO)
    exact = [amount * w / total for w in weights]
    parts = [e.quantize(quantum, ROUND_DOWN) for e in exact]
    remainder = amount - sum(parts, _ZERO)
    if remainder:
        order = sorted(range(len(parts)), key=lambda i: (parts[i] - exact[i], i))
        i = 0
        while remainder > 0:
            parts[order[i % len(order)]] += quantum
            remainder -= quantum
            i += 1
    return parts
