"""Cycle close: one account's ledger lines for a cycle -> one cycle document (or a skip).

The ledger is what is billed: plan fees reach it from the catalog in real time
(``RecurringFees(CatalogRater(catalog).monthly_fees()).cycle_fees``), usage through rating,
split shares through the graph's ``Split`` step. The close adds only what is decided at the
cycle's end, every figure of it from the catalog (:class:`~telcoflow.catalog.Catalog`):

1. ledger lines become document lines (one per subscriber and item type, rounded: an
   add-on's fee, item type ``recurring:<offering>/<price>``, is a line of its own, named,
   taxed and discounted as that price of the catalog); the
   real-time ``tax`` lines (an exact, unrounded estimate) are summed as the document's
   ``ledger_tax`` and replaced by the catalog rule's figure (step 4); ``discount`` lines
   (negative) are spread over the subscriber's lines as one ``realtime`` discount;
2. the catalog's discounts (bundles checked against what the account held: its own
   subscriptions and the add-ons whose fees its ledger holds; coupons
   once only; validity on the cycle's first day), each spread pro rata over what it covers;
3. who pays each line (``paid_by``): the balance of a prepaid account (item types not in its
   ``postpaid_items``), a payer of the split (the account's ``payers``), or the holder;
4. tax by :class:`~telcoflow.rating.tax.TaxRules`: each line's category (price,
   tariff, the subscriber's offering, catalog default), its rate in the account's
   jurisdiction, rounded per line or once per bill and rate as the catalog says; the tax
   summary is the sum of the lines' taxes, so it shows exactly what the rule computed;
5. the document: a ``statement`` for a prepaid account (opening balance, top-ups, paid from
   the balance, closing balance, nothing due), a ``payer`` document for an account without
   subscriptions that pays for members (what it pays, per member), else a ``bill``; the
   parts per payer sum exactly to the total; the amount due counts the holder's part only.

An account is skipped only when there is nothing to put on a document: ``no-subscribers``
(no subscription, no member, no ledger line, no balance movement) or ``no-charges``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal

from telcoflow.billing.cycle.model import (
    AccountPosition,
    Bill,
    BillCycle,
    BillingAccount,
    BillLine,
    DiscountApplied,
    MemberCharge,
    PayerPart,
    SkippedAccount,
    TaxSummary,
    bill_built_consistent,
    new_record,
)
from telcoflow.billing.cycle.policy import ClosePolicy
from telcoflow.billing.cycle.sources import LedgerRow
from telcoflow.catalog.model import Catalog
from telcoflow.errors import CurrencyMismatchError, DefinitionError, MoneyError
from telcoflow.events import base_item_type, priced_item
from telcoflow.ledger import LedgerLine
from telcoflow.money import Currency, allocate, in_money_context
from telcoflow.rating.discounts import PreparedDiscount
from telcoflow.rating.tax import TaxRules

__all__ = ["DEFAULT_DESCRIPTIONS", "DEFAULT_UNITS", "CycleCloser", "close_account"]

_ZERO = Decimal(0)
#: ``paid_by`` of a line a prepaid balance paid
BALANCE = "balance"

#: Line descriptions per item type when the policy does not name one.
DEFAULT_DESCRIPTIONS: dict[str, str] = {
    "voice": "Voice calls", "data": "Mobile data", "sms": "Text messages",
    "slice": "Network slice usage", "recurring": "Monthly plan fee",
    "one_time": "One-time charges", "external": "Partner charges",
    "minimum_spend": "Minimum spend top-up", "device": "Device fee",
    "roaming": "Roaming charges", "benefit": "Benefits",
}
#: Quantity units per item type when the policy does not name one.
DEFAULT_UNITS: dict[str, str] = {
    "voice": "second", "data": "MB", "sms": "message", "slice": "hour",
    "recurring": "month", "one_time": "unit", "external": "unit", "minimum_spend": "unit",
}
#: The catalog price type of a ledger item type (what a discount's ``price_types`` covers).
_PRICE_TYPES: dict[str, str] = {
    "recurring": "recurring", "device": "recurring", "one_time": "one_time",
    "external": "external", "benefit": "benefit",
}


class _Line:
    """A document line being built (mutable until taxes are applied)."""

    __slots__ = ("amount", "category", "description", "discount", "item_type", "offering",
                 "order", "price_type", "quantity", "subscriber_id", "unit")

    def __init__(self, subscriber_id: str, item_type: str, description: str, quantity: Decimal,
                 unit: str, amount: Decimal, category: str | None, rank: int,
                 offering: str | None) -> None:
        self.subscriber_id = subscriber_id
        self.item_type = item_type
        #: the catalog price type a discount's ``price_types`` covers
        self.price_type = _PRICE_TYPES.get(base_item_type(item_type), "usage")
        self.description = description
        self.quantity = quantity
        self.unit = unit
        self.amount = amount
        self.discount = _ZERO
        self.category = category
        self.offering = offering
        # line order: per subscriber (account-level lines last), fees before usage
        self.order = (not subscriber_id, subscriber_id, rank, item_type)


def _order(w: _Line) -> tuple[bool, str, int, str]:
    return w.order


class CycleCloser:
    """Closes accounts for one cycle under one policy and catalog (configured once, called
    per account).

    ``catalog`` defaults to the one the policy names (``catalog:``); a close without a catalog
    is refused (it would bill untaxed amounts). What does not change from one account to the
    next is worked out here, once: the cycle's ledger period and due date, each item type's
    description, unit and rank, the catalog's discounts rounded to each currency's minor
    unit and valid this cycle, the tax categories and rates.
    """

    __slots__ = ("_discounts", "_due", "_inclusive", "_items", "_key", "_mode", "_names",
                 "_quanta", "_rates", "catalog", "cycle", "policy", "taxes")

    def __init__(self, policy: ClosePolicy, cycle: BillCycle,
                 catalog: Catalog | None = None) -> None:
        if catalog is None:
            if not policy.catalog:
                raise DefinitionError(
                    "the cycle close needs the catalog (plan fees, taxes, discounts): name it "
                    "in the close policy (`catalog: path/to/catalog.yaml`) or pass "
                    "CycleCloser(policy, cycle, catalog)")
            from telcoflow.loading.catalog import load_catalog

            catalog = load_catalog(*policy.catalog)
        self.policy = policy
        self.cycle = cycle
        self.catalog = catalog
        self.taxes = TaxRules(catalog)
        self._key = cycle.key
        self._mode = policy.rounding.decimal_mode
        self._due = cycle.bill_date + timedelta(policy.payment_terms_days)
        self._rates: dict[tuple[str, str | None], Decimal] = {}
        self._inclusive: dict[tuple[str, str | None], bool] = {}
        self._quanta: dict[str, Decimal] = {}
        self._items: dict[str, tuple[str, str, int]] = {}
        self._names: dict[str, str] = {}
        self._discounts: dict[Decimal, list[PreparedDiscount]] = {}

    def rate(self, jurisdiction: str, category: str | None) -> Decimal:
        """The tax rate (percent) of ``category`` in ``jurisdiction`` (``default``: the
        catalog's own), cached; raises :class:`~telcoflow.errors.RatingError` without one."""
        key = (jurisdiction, category)
        rate = self._rates.get(key)
        if rate is None:
            rate = self._rates[key] = self.taxes.rate(
                category, None if jurisdiction == "default" else jurisdiction)
        return rate

    def inclusive(self, jurisdiction: str, category: str | None) -> bool:
        """Whether ``category``'s rate in ``jurisdiction`` is inside the price (cached)."""
        key = (jurisdiction, category)
        found = self._inclusive.get(key)
        if found is None:
            found = self._inclusive[key] = self.taxes.inclusive(
                category, None if jurisdiction == "default" else jurisdiction)
        return found

    def quantum(self, currency: str) -> Decimal:
        """The minor unit of ``currency`` (cached)."""
        q = self._quanta.get(currency)
        if q is None:
            q = self._quanta[currency] = Currency.of(currency).quantum
        return q

    def _item(self, item: str) -> tuple[str, str, int]:
        """(description, unit, rank) of a ledger item type (a price's own fee,
        :func:`~telcoflow.events.price_item_type`: the price's name, else its offering's)."""
        info = self._items.get(item)
        if info is None:
            policy = self.policy
            base = base_item_type(item)
            info = self._items[item] = (
                policy.descriptions.get(item) or self._price_name(item)
                or DEFAULT_DESCRIPTIONS.get(base) or base.replace("_", " ").capitalize(),
                policy.units.get(item) or policy.units.get(base)
                or DEFAULT_UNITS.get(base, "unit"), _RANK.get(base, 7))
        return info

    def _price_name(self, item: str) -> str:
        """The name of the catalog price whose own fee ``item`` is ('' for other items)."""
        priced = priced_item(item)
        if priced is None or priced[0] not in self.catalog.offering_versions:
            return ""
        offering = self.catalog.offering(priced[0])
        return next((p.name for p in offering.prices if p.id == priced[1] and p.name),
                    offering.name)

    def _plan_name(self, plan: str) -> str:
        name = self._names.get(plan)
        if name is None:
            catalog = self.catalog
            name = ""
            if plan in catalog.offering_versions:
                name = catalog.offering(plan).name
            name = self._names[plan] = name or self._item("recurring")[0]
        return name

    def _specs(self, quantum: Decimal) -> list[PreparedDiscount]:
        specs = self._discounts.get(quantum)
        if specs is None:
            start = self.cycle.start
            specs = self._discounts[quantum] = [
                PreparedDiscount(d, quantum, self._mode) for d in self.catalog.discounts
                if d.is_valid_on(start)]
        return specs

    def __call__(
        self, account: BillingAccount, lines: Iterable[LedgerLine]
    ) -> Bill | SkippedAccount:
        """Close ``account``: its document, or why it gets none (see :func:`close_account`)."""
        period = self._key
        return self.close_rows(account, [
            (ln.subscriber, ln.item_type, ln.currency, ln.amount, ln.quantity)
            for ln in lines if ln.period == period])

    @in_money_context
    def close_rows(
        self, account: BillingAccount, rows: Iterable[LedgerRow]
    ) -> Bill | SkippedAccount:
        """Close ``account`` from its ledger lines of this cycle's period, given as
        :data:`~telcoflow.billing.cycle.sources.LedgerRow` tuples ``(subscriber, item_type,
        currency, amount, quantity)`` (what a bill run reads: no :class:`LedgerLine` per
        line); otherwise the same as calling the closer."""
        currency = account.currency
        sums: dict[tuple[str, str], list[Decimal]] = {}
        realtime_discounts: dict[str, Decimal] = {}
        ledger_tax = ledger_total = _ZERO
        for subscriber, item, line_currency, amount, quantity in rows:
            if not amount and not quantity:
                continue
            ledger_total += amount
            if line_currency != currency:
                raise CurrencyMismatchError(
                    f"ledger line {subscriber}/{item} of account {account.account_id} "
                    f"is in {line_currency}, expected the account currency {currency}")
            if item == "tax":  # the real-time estimate: replaced by the catalog rule's figure
                ledger_tax += amount
                continue
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
        if not sums and not (account.prepaid and account.top_ups):
            if ledger_tax:
                raise MoneyError(
                    f"account {account.account_id}: the ledger holds tax ({ledger_tax}) but no "
                    "charge for the cycle: nothing to tax")
            return SkippedAccount(account.account_id, "no-charges" if (
                account.subscriptions or account.members) else "no-subscribers")

        quantum = self._quanta.get(currency) or self.quantum(currency)
        mode = self._mode
        items = self._items
        plans = {s.subscriber_id: s.plan_id for s in account.subscriptions}
        if account.members:  # a payer's lines for its members: by the members' plans
            for m in account.members:
                plans.update(zip(m.subscribers, m.plans, strict=False))
        category_of = self.taxes.category
        work: list[_Line] = []
        for (sub, item), (amount, quantity) in sorted(sums.items()):
            info = items.get(item) or self._item(item)
            plan = plans.get(sub)
            description = (self._plan_name(plan) if item == "recurring" and plan is not None
                           else info[0])
            priced = priced_item(item) if ":" in item else None
            work.append(_Line(sub, item, description, quantity, info[1],
                              amount.quantize(quantum, mode), category_of(plan, item), info[2],
                              plan if priced is None else priced[0]))

        discounts = (_realtime_discounts(work, realtime_discounts, quantum, mode)
                     if realtime_discounts else [])
        specs = self._specs(quantum)
        if specs and work:
            discounts.extend(_apply_discounts(account, work, specs, self.cycle, quantum, mode))
        return self._finish(account, work, discounts, quantum, mode, ledger_tax, ledger_total)

    def _finish(self, account: BillingAccount, work: list[_Line],
                discounts: Sequence[DiscountApplied], quantum: Decimal, mode: str,
                ledger_tax: Decimal, ledger_total: Decimal) -> Bill:
        lines: list[BillLine] = []
        # per tax category: [rate, base, tax] (one jurisdiction per bill: one rate per category)
        tax_groups: dict[str | None, list[Decimal]] = {}
        subtotal = discount_total = tax_total = total = _ZERO
        jurisdiction = account.jurisdiction
        work.sort(key=_order)
        rates = [self.rate(jurisdiction, w.category) for w in work]
        included = ([self.inclusive(jurisdiction, w.category) for w in work]
                    if self.taxes.any_inclusive else [False] * len(work))
        taxes = self.taxes.bill_taxes([w.amount - w.discount for w in work], rates, included,
                                      quantum)
        prepaid, postpaid = account.prepaid, account.postpaid_items
        payers = account.payers
        paid_by_payer = {t: rule.payer_id for rule in reversed(payers) for t in rule.item_types}
        own = {s.subscriber_id for s in account.subscriptions}
        member_of = {sub: m.account_id for m in account.members for sub in m.subscribers}
        members: list[MemberCharge] = []
        from_balance = _ZERO
        for line_no, (w, rate, tax, inside) in enumerate(
                zip(work, rates, taxes, included, strict=True), 1):
            category = w.category or ""
            amount, discount = w.amount, w.discount
            if inside:  # the ledger held the price, tax inside: the amount is net of it
                amount -= tax
            net = amount - discount
            gross = net + tax
            item = w.item_type
            kind = base_item_type(item)
            if prepaid and kind not in postpaid:
                paid_by = BALANCE
                from_balance += gross
            else:
                paid_by = paid_by_payer.get(kind, "") if payers else ""
            sub = w.subscriber_id
            if sub and sub not in own:
                members.append(new_record(MemberCharge, (
                    member_of.get(sub, ""), sub, item, net, tax, gross)))
            lines.append(new_record(BillLine, (
                line_no, sub, item, w.description, w.quantity, w.unit,
                amount, discount, net, category, rate, tax, gross, paid_by, inside)))
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
        summaries = tuple([new_record(TaxSummary, (c, r, b, t))
                           for c, (r, b, t) in sorted(tax_groups.items())])

        account_id = account.account_id
        parts = _parts(account, lines, total, from_balance, quantum, mode)
        holder = parts[-1].amount
        previous, payments, adjustments = (
            account.previous_balance, account.payments, account.adjustments)
        position = new_record(AccountPosition, (
            previous, payments, adjustments, holder,
            previous - payments + adjustments + holder, self._due))
        listed = _ZERO
        for d in discounts:
            listed += d.amount
        if listed != discount_total or total != subtotal - discount_total + tax_total:
            raise MoneyError(
                f"bill {account_id}-{self._key} is inconsistent: discounts listed {listed}, "
                f"on the lines {discount_total}; total {total} for subtotal {subtotal}, "
                f"discounts {discount_total} and tax {tax_total}")
        if prepaid:
            kind = "bill" if from_balance != total else "statement"
            opening: Decimal | None = account.opening_balance
            closing: Decimal | None = account.opening_balance + account.top_ups - from_balance
        else:
            kind = "bill" if account.subscriptions else "payer"
            opening = closing = None
        return bill_built_consistent(
            f"{account_id}-{self._key}", account_id, account.name, self.cycle,
            account.currency, account.locale, tuple(lines), tuple(discounts), summaries, parts,
            position, subtotal, discount_total, tax_total, total,
            tuple([d.coupon for d in discounts if d.coupon]) if discounts else (),
            account.address, tuple([s.subscriber_id for s in account.subscriptions]),
            kind, tuple(members), opening, account.top_ups if prepaid else _ZERO,
            from_balance, closing, ledger_tax, ledger_total)

_RANK = {"recurring": 0, "device": 0, "one_time": 1, "voice": 2, "data": 3, "sms": 4,
         "slice": 5, "external": 8}


def _parts(account: BillingAccount, lines: Sequence[BillLine], total: Decimal,
           from_balance: Decimal, quantum: Decimal, mode: str) -> tuple[PayerPart, ...]:
    """Who pays ``total``: the prepaid balance, then the payers (each rule in order, capped,
    over the lines not paid from the balance), the rest (always last) the holder."""
    parts: list[PayerPart] = []
    assigned = _ZERO
    if from_balance:
        parts.append(new_record(PayerPart, (BALANCE, from_balance)))
        assigned = from_balance
    if account.payers:
        taken: set[int] = set()
        for rule in account.payers:
            covered = _ZERO
            for ln in lines:
                if (ln.line_no not in taken and ln.paid_by != BALANCE
                        and base_item_type(ln.item_type) in rule.item_types):
                    taken.add(ln.line_no)
                    covered += ln.gross
            if rule.cap is not None:
                covered = min(covered, rule.cap.quantize(quantum, mode))
            if covered > 0:
                parts.append(new_record(PayerPart, (rule.payer_id, covered)))
                assigned += covered
    parts.append(new_record(PayerPart, (account.account_id, total - assigned)))
    return tuple(parts)


def close_account(
    account: BillingAccount,
    lines: Iterable[LedgerLine],
    cycle: BillCycle,
    policy: ClosePolicy,
    catalog: Catalog | None = None,
) -> Bill | SkippedAccount:
    """Close ``account`` for ``cycle``: its document, or why it gets none.

    ``lines`` are the account's ledger lines; only those of period ``cycle.key`` count.
    ``catalog`` defaults to the one the policy names. Raises
    :class:`~telcoflow.errors.CurrencyMismatchError` when a ledger line is not in the
    account's currency and :class:`~telcoflow.errors.RatingError` for a tax category without
    a rate in the account's jurisdiction. For many accounts, build one :class:`CycleCloser`
    and call it per account.
    """
    return CycleCloser(policy, cycle, catalog)(account, lines)


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


def _cycle_index(account: BillingAccount, cycle: BillCycle,
                 offerings: Sequence[str]) -> int | None:
    """How many cycles before ``cycle`` the earliest subscription (on one of ``offerings``,
    any when empty) started: 0 = this one; ``None`` when no start is known."""
    starts = [s.start for s in account.subscriptions
              if s.start is not None and (not offerings or s.plan_id in offerings)]
    if not starts:
        return None
    first = min(starts)
    months = (cycle.start.year - first.year) * 12 + cycle.start.month - first.month
    own = BillCycle.for_month(cycle.cycle_day, first.year, first.month)
    if first < own.start:  # it started in the cycle before the one starting in its month
        months += 1
    return months


def _apply_discounts(account: BillingAccount, work: list[_Line], specs: Sequence[PreparedDiscount],
                     cycle: BillCycle, quantum: Decimal,
                     mode: str) -> list[DiscountApplied]:
    """The catalog's discounts the account qualifies for, spread over what each covers.

    A bundle (``requires_offerings``) needs every required offering among those the account
    held in the cycle (:func:`_held`: its own subscriptions, and the add-ons whose fees its
    ledger holds, taken by events), never a list a caller hands over; a coupon discount
    needs the coupon held and not yet redeemed (once only, whatever its ``duration``); a
    discount for the first cycle(s) (``duration: once`` or ``recurring`` with ``cycles``)
    applies while the earliest subscription it covers is that young (never when no start is
    known); ``forever`` discounts apply while valid.
    """
    out: list[DiscountApplied] = []
    plans_held: frozenset[str] | None = None
    for spec in specs:
        if spec.requires:
            if plans_held is None:
                plans_held = _held(account, work, cycle)
            if not spec.requires <= plans_held:
                continue
        coupon = spec.coupon
        if coupon is not None:
            if coupon not in account.coupons or coupon in account.redeemed_coupons:
                continue  # once only: needs the coupon, not yet redeemed
        elif spec.spec.duration != "forever":
            index = _cycle_index(account, cycle, spec.scope.offerings)
            if index is None or not spec.spec.active_in_cycle(index):
                continue
        covered: list[_Line] = []
        weights: list[Decimal] = []
        base = _ZERO
        for w in work:
            if spec.covers(w.offering, w.price_type, w.category):
                left = w.amount - w.discount
                if left > 0:
                    covered.append(w)
                    weights.append(left)
                    base += left
        if base <= 0:
            continue
        try:
            amount = spec.amount_on(base, account.currency, quantum, mode)
        except CurrencyMismatchError as exc:
            raise CurrencyMismatchError(f"account {account.account_id}: {exc}") from None
        if amount <= 0:
            continue
        if len(covered) == 1:
            covered[0].discount += amount
        else:
            for w, part in zip(covered, allocate(amount, weights, quantum), strict=True):
                w.discount += part
        out.append(DiscountApplied(spec.id, spec.description, amount, coupon))
    return out


def _held(account: BillingAccount, work: Sequence[_Line], cycle: BillCycle) -> frozenset[str]:
    """The offerings the account held in ``cycle``: its subscriptions' plans held some day
    of it, and every offering whose own fee the ledger bills this cycle (an add-on taken by
    an event: a positive fee line of ``recurring:<offering>/<price>``)."""
    held = {s.plan_id for s in account.subscriptions
            if (s.start is None and s.end is None) or s.days_held(cycle) > 0}
    held.update(w.offering for w in work
                if w.offering and w.amount > 0 and priced_item(w.item_type) is not None)
    return frozenset(held)
