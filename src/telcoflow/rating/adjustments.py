"""Discounts then taxes on a set of charge lines (a bill, or one cycle of an account).

Order: each line is rounded to the currency's minor unit (a bill line), discounts are
applied before tax and spread pro rata over the lines they cover (parts summing exactly to
the discount, via :meth:`telcoflow.money.Money.allocate`), then tax is computed per line by
category and jurisdiction (exclusive or inclusive, exemptions) and rounded per line.

* :class:`ChargeLine`, :class:`TaxContext`: the inputs.
* :func:`discount_value`, :func:`spread`, :func:`apply_discounts`: the discount steps.
* :func:`resolve_tax_category` (precedence charge > offer > account > default),
  :func:`tax_for`: the tax steps.
* :func:`settle`: everything at once -> :class:`Settlement` with :class:`AdjustedLine` rows.
* :class:`TaxRules`: the catalog's tax in one place (category of a line, rate, and the
  rounding rule ``tax_defaults.rule``), used by the real-time ``Tax`` step and the cycle
  close alike.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from telcoflow.catalog.discounts import Discount, FixedDiscount
from telcoflow.catalog.model import Catalog
from telcoflow.catalog.offers import RecurringPrice, UsagePrice
from telcoflow.catalog.taxes import TaxRate
from telcoflow.errors import CurrencyMismatchError, RatingError
from telcoflow.events import priced_item
from telcoflow.money import MONEY_CONTEXT, Currency, Money, RoundingPolicy

__all__ = [
    "AdjustedLine",
    "AppliedDiscount",
    "ChargeLine",
    "Settlement",
    "TaxContext",
    "TaxRules",
    "apply_discounts",
    "discount_value",
    "resolve_tax_category",
    "settle",
    "spread",
    "tax_for",
]

_CTX = MONEY_CONTEXT
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One charge before discounts and tax.

    ``tax_category`` is the charge's own category (highest precedence);
    ``offering_tax_category`` the category of the offering it comes from.
    ``price_type`` is ``recurring``, ``one_time``, ``usage``, ``external`` or ``benefit``.
    """

    id: str
    amount: Money
    offering: str | None = None
    price_type: str | None = None
    tax_category: str | None = None
    offering_tax_category: str | None = None


@dataclass(frozen=True, slots=True)
class TaxContext:
    """Who is taxed where: ``jurisdiction`` (default: the catalog's), the account's tax
    category, its exemption ids, and the day (for dated rates)."""

    jurisdiction: str | None = None
    account_tax_category: str | None = None
    exemptions: tuple[str, ...] = ()
    on: date | None = None


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    """A discount as applied: its total and its part on each covered line."""

    discount_id: str
    amount: Money
    parts: dict[str, Money] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AdjustedLine:
    """A charge line after discounts and tax.

    ``taxable`` is the amount after discounts as priced (tax included when ``inclusive``);
    ``tax`` is rounded per line; ``total`` is what the customer pays for the line.
    """

    line: ChargeLine
    amount: Money
    discount: Money
    taxable: Money
    tax_category: str | None
    jurisdiction: str
    tax_percent: Decimal
    inclusive: bool
    exempted_by: str | None
    tax: Money
    total: Money

    @property
    def net_of_tax(self) -> Money:
        """The line's amount without tax."""
        return self.total - self.tax


@dataclass(frozen=True, slots=True)
class Settlement:
    """Every adjusted line and the totals (each total is the exact sum of its lines)."""

    lines: tuple[AdjustedLine, ...]
    discounts: tuple[AppliedDiscount, ...]
    subtotal: Money
    discount_total: Money
    tax_total: Money
    total: Money


def discount_value(
    discount: Discount,
    covered: Money,
    *,
    policy: RoundingPolicy = RoundingPolicy.HALF_UP,
) -> Money:
    """The amount ``discount`` takes off lines totalling ``covered``, rounded to the minor
    unit: a percentage (capped at ``cap``) or a fixed amount, never more than ``covered``.
    A fixed discount in another currency than ``covered`` raises
    :class:`~telcoflow.errors.CurrencyMismatchError`."""
    if covered.amount <= 0:
        return Money.zero(covered.currency)
    cur = covered.currency
    if isinstance(discount, FixedDiscount):
        if discount.currency is not None and Currency.of(discount.currency) != cur:
            raise CurrencyMismatchError(
                f"discount {discount.id!r} is in {discount.currency}, the lines in {cur}"
            )
        value = discount.amount
    else:
        with decimal.localcontext(_CTX):
            value = covered.amount * discount.percent / _HUNDRED
        if discount.cap is not None and value > discount.cap:
            value = discount.cap
    value = min(value, covered.amount)
    return Money(policy.quantize(value, cur.exponent), cur)


def spread(
    amount: Money, weights: Sequence[Money], *, policy: RoundingPolicy = RoundingPolicy.HALF_UP
) -> list[Money]:
    """Split ``amount`` pro rata over ``weights`` (line amounts): minor-unit parts that sum
    exactly to ``amount`` rounded by ``policy`` (largest remainder, first line on ties).

    >>> [str(p) for p in spread(Money("6.00", "EUR"), [Money("50", "EUR"), Money("10", "EUR")])]
    ['5.00 EUR', '1.00 EUR']
    """
    if not weights:
        raise RatingError("cannot spread an amount over no lines")
    for w in weights:
        if w.currency != amount.currency:
            raise CurrencyMismatchError(
                f"cannot spread {amount.currency} over a {w.currency} line ({w})"
            )
    return amount.allocate([w.amount for w in weights], policy)


def apply_discounts(
    lines: Sequence[ChargeLine],
    discounts: Iterable[Discount],
    *,
    categories: Sequence[str | None] | None = None,
    cycle_index: int = 0,
    held_offerings: Iterable[str] | None = None,
    policy: RoundingPolicy = RoundingPolicy.HALF_UP,
) -> tuple[list[Money], list[AppliedDiscount]]:
    """Apply ``discounts`` in order to ``lines`` (amounts already rounded to minor units).

    A discount is skipped when it is not active in ``cycle_index`` (0 = first cycle held)
    or when its bundle condition fails: a discount with ``requires_offerings`` needs
    ``held_offerings`` (the offerings of the account's own subscriptions) to hold every one
    of them, and is never granted without it. The cycle close derives them from the
    account's subscriptions itself. Each covers the positive lines its scope matches
    (``categories`` are the lines' resolved tax categories), on what previous discounts left.
    Returns the discount taken off each line and the applied discounts.
    """
    if not lines:
        return [], []
    currency = lines[0].amount.currency
    remaining = [ln.amount for ln in lines]
    taken = [Money.zero(currency) for _ in lines]
    cats = list(categories) if categories is not None else [ln.tax_category for ln in lines]
    held = frozenset(held_offerings) if held_offerings is not None else None
    applied: list[AppliedDiscount] = []
    for disc in discounts:
        if not disc.active_in_cycle(cycle_index):
            continue
        if disc.requires_offerings and (held is None or not disc.eligible(held)):
            continue  # a bundle is granted only on proof: the offerings the account holds
        covered = [
            i for i, ln in enumerate(lines)
            if remaining[i].amount > 0
            and disc.applies_to.covers(
                offering=ln.offering, price_type=ln.price_type, tax_category=cats[i]
            )
        ]
        if not covered:
            continue
        base = Money.sum((remaining[i] for i in covered), currency)
        value = discount_value(disc, base, policy=policy)
        if not value:
            continue
        parts = spread(value, [remaining[i] for i in covered], policy=policy)
        for i, part in zip(covered, parts, strict=True):
            remaining[i] = remaining[i] - part
            taken[i] = taken[i] + part
        applied.append(AppliedDiscount(
            disc.id, value, {lines[i].id: part for i, part in zip(covered, parts, strict=True)}))
    return taken, applied


def resolve_tax_category(
    *,
    charge: str | None = None,
    offer: str | None = None,
    account: str | None = None,
    default: str | None = None,
) -> str | None:
    """The category that applies, by precedence: charge > offer > account > default."""
    for candidate in (charge, offer, account, default):
        if candidate is not None:
            return candidate
    return None


def tax_for(
    taxable: Money, rate: TaxRate | None, *, policy: RoundingPolicy = RoundingPolicy.HALF_UP
) -> Money:
    """Tax on one line, rounded to the minor unit.

    Exclusive: ``taxable x p / 100``. Inclusive (the tax is inside ``taxable``):
    ``taxable x p / (100 + p)``. No rate: zero.
    """
    cur = taxable.currency
    if rate is None or rate.percent == 0:
        return Money.zero(cur)
    with decimal.localcontext(_CTX):
        if rate.inclusive:
            tax = taxable.amount * rate.percent / (_HUNDRED + rate.percent)
        else:
            tax = taxable.amount * rate.percent / _HUNDRED
    return Money(policy.quantize(tax, cur.exponent), cur)


def settle(
    lines: Sequence[ChargeLine],
    catalog: Catalog,
    *,
    discounts: Iterable[Discount] = (),
    tax: TaxContext | None = None,
    cycle_index: int = 0,
    held_offerings: Iterable[str] | None = None,
) -> Settlement:
    """Round each line, apply ``discounts`` (before tax, pro rata), then tax each line.

    Tax category by precedence (line, offering, account, catalog default); rate by the
    context's jurisdiction (else the catalog's default, else ``*``). A line whose category
    has no rate there raises :class:`~telcoflow.errors.RatingError`; a line with no category
    at all is not taxed. Rounding uses the catalog's tax rounding policy (half-up by default).
    """
    ctx = tax or TaxContext()
    defaults = catalog.tax_defaults
    policy = defaults.rounding if defaults else RoundingPolicy.HALF_UP
    jurisdiction = ctx.jurisdiction or (defaults.jurisdiction if defaults else "*")
    currency = lines[0].amount.currency if lines else catalog.default_currency
    exemptions = []
    for ex_id in ctx.exemptions:
        try:
            exemptions.append(catalog.tax_exemptions_by_id[ex_id])
        except KeyError:
            raise RatingError(f"unknown tax exemption {ex_id!r}") from None
    rounded = [
        ChargeLine(ln.id, ln.amount.rounded(policy), ln.offering, ln.price_type,
                   ln.tax_category, ln.offering_tax_category)
        for ln in lines
    ]
    for ln in rounded:
        if ln.amount.currency != currency:
            raise CurrencyMismatchError(
                f"line {ln.id!r} is in {ln.amount.currency}, other lines in {currency}")
    cats = [
        resolve_tax_category(
            charge=ln.tax_category, offer=ln.offering_tax_category,
            account=ctx.account_tax_category, default=defaults.category if defaults else None)
        for ln in rounded
    ]
    taken, applied = apply_discounts(
        rounded, discounts, categories=cats, cycle_index=cycle_index,
        held_offerings=held_offerings, policy=policy)
    out: list[AdjustedLine] = []
    for ln, cat, disc in zip(rounded, cats, taken, strict=True):
        taxable = ln.amount - disc
        rate: TaxRate | None = None
        exempted_by: str | None = None
        if cat is not None:
            category = catalog.tax_categories_by_id.get(cat)
            if category is None:
                raise RatingError(f"line {ln.id!r}: unknown tax category {cat!r}")
            rate = category.rate_for(jurisdiction, ctx.on)
            if rate is None:
                raise RatingError(
                    f"line {ln.id!r}: tax category {cat!r} has no rate for jurisdiction "
                    f"{jurisdiction!r}" + (f" on {ctx.on}" if ctx.on else ""))
            for ex in exemptions:
                if ex.exempts(cat, jurisdiction):
                    exempted_by = ex.id
                    break
        inclusive = rate.inclusive if rate is not None else False
        if exempted_by is not None and rate is not None and inclusive:
            # an exempt customer does not pay the tax contained in an inclusive price
            line_tax = Money.zero(currency)
            total = taxable - tax_for(taxable, rate, policy=policy)
        elif exempted_by is not None:
            line_tax = Money.zero(currency)
            total = taxable
        else:
            line_tax = tax_for(taxable, rate, policy=policy)
            total = taxable if inclusive else taxable + line_tax
        out.append(AdjustedLine(
            ln, ln.amount, disc, taxable, cat, jurisdiction,
            rate.percent if rate is not None and exempted_by is None else Decimal(0),
            inclusive, exempted_by, line_tax, total))
    return Settlement(
        tuple(out),
        tuple(applied),
        Money.sum((a.amount for a in out), currency),
        Money.sum((a.discount for a in out), currency),
        Money.sum((a.tax for a in out), currency),
        Money.sum((a.total for a in out), currency),
    )


class TaxRules:
    """The catalog's tax, in one place: which category a charge pays, at which rate, and how
    the tax rounds.

    * category, by precedence: the price's own ``tax_category``, else its tariff's, else the
      offering's, else ``tax_defaults.category`` (:meth:`category`);
    * rate: the category's rate for the jurisdiction (else its ``*`` rate). A category
      without any rate cannot be defined (the catalog refuses it where it is written); a
      category without a rate *for this jurisdiction* raises :class:`RatingError`. A rate
      is exclusive (added to the price) or inclusive (:meth:`inclusive`: inside the price,
      ``price x rate / (100 + rate)``; the net is the price less it);
    * rounding (``tax_defaults.rule``): ``per-line`` rounds each line's tax; ``per-bill-rate``
      rounds the tax of all a bill's lines at one rate once, then spreads it over the lines
      (largest remainder), so the lines still sum exactly to the rounded figure
      (:meth:`line_taxes`).

    20 % over 10.01 + 10.01 + 10.01: per line 2.00 + 2.00 + 2.00 = 6.00; per bill and rate
    6.006 -> 6.01 (spread 2.01 + 2.00 + 2.00).

    >>> from decimal import Decimal as D
    >>> TaxRules.spread_rounded([D("10.01")] * 3, D("0.2"), D("0.01"), "ROUND_HALF_UP")
    [Decimal('2.01'), Decimal('2.00'), Decimal('2.00')]

    20 % inside a 25.00 price: 25.00 x 20 / 120 = 4.1666.. -> 4.17 of tax, a net of 20.83.
    """

    __slots__ = ("_categories", "_inclusive", "_rates", "any_inclusive", "catalog",
                 "default_category", "jurisdiction", "rounding", "rule")

    def __init__(self, catalog: Catalog, *, jurisdiction: str | None = None) -> None:
        defaults = catalog.tax_defaults
        self.catalog = catalog
        self.rule: str = defaults.rule if defaults is not None else "per-line"
        self.rounding: RoundingPolicy = (defaults.rounding if defaults is not None
                                         else RoundingPolicy.HALF_UP)
        self.jurisdiction: str = jurisdiction or (defaults.jurisdiction if defaults else "*")
        self.default_category: str | None = defaults.category if defaults else None
        self._categories: dict[tuple[str, str], str | None] = {}
        self._rates: dict[tuple[str, str], Decimal] = {}
        #: (category, jurisdiction) whose rate is inside the price
        self._inclusive: set[tuple[str, str]] = set()
        #: whether any rate of the catalog is inside the price (else no line needs asking)
        self.any_inclusive: bool = any(r.inclusive for c in catalog.tax_categories
                                       for r in c.rates)

    @property
    def per_bill_rate(self) -> bool:
        """Whether tax is rounded once per bill and rate (else per line)."""
        return self.rule == "per-bill-rate"

    def category(self, offering: str | None, item_type: str) -> str | None:
        """The tax category of an ``item_type`` charge under ``offering`` (cached; ``None``:
        untaxed, when neither the price, tariff, offering nor the catalog names one). A
        price's own fee (:func:`~telcoflow.events.price_item_type`) takes its category from
        that price and its offering, whatever ``offering`` is."""
        key = (offering or "", item_type)
        if key in self._categories:
            return self._categories[key]
        found: str | None = None
        catalog = self.catalog
        priced = priced_item(item_type)
        if priced is not None:  # one price's own fee: that price's offering decides
            offering, price_id = priced
            if offering in catalog.offering_versions:
                off = catalog.offering(offering)
                found = next((p.tax_category for p in off.prices
                              if p.id == price_id and isinstance(p, RecurringPrice)), None)
                if found is None:
                    found = off.tax_category
        elif offering and offering in catalog.offering_versions:
            off = catalog.offering(offering)
            for price in off.prices:
                if isinstance(price, UsagePrice):
                    tariff = catalog.tariff(price.tariff)
                    if tariff.service == item_type:
                        found = price.tax_category or tariff.tax_category
                        break
                elif isinstance(price, RecurringPrice) and (
                        (item_type == "recurring" and price.per is None and price.cycles is None)
                        or (item_type == "device" and price.per == "device")):
                    # the ledger's recurring line is the plan fee (its first flat price for
                    # good); its device line, the price per device
                    found = price.tax_category
                    break
            if found is None:
                found = off.tax_category
        if found is None:
            found = self.default_category
        self._categories[key] = found
        return found

    def rate(self, category: str | None, jurisdiction: str | None = None) -> Decimal:
        """The rate (percent) of ``category`` in ``jurisdiction`` (default: the catalog's);
        0 for no category. Raises :class:`RatingError` when the category has no rate there."""
        if category is None:
            return Decimal(0)
        where = jurisdiction or self.jurisdiction
        key = (category, where)
        rate = self._rates.get(key)
        if rate is None:
            cat = self.catalog.tax_categories_by_id.get(category)
            if cat is None:
                raise RatingError(f"unknown tax category {category!r} (known: "
                                  f"{sorted(self.catalog.tax_categories_by_id)})")
            found = cat.rate_for(where)
            if found is None:
                raise RatingError(
                    f"tax category {category!r} has no rate for jurisdiction {where!r} "
                    f"(rates: {[r.jurisdiction for r in cat.rates]})")
            if found.inclusive:
                self._inclusive.add(key)
            rate = self._rates[key] = found.percent
        return rate

    def inclusive(self, category: str | None, jurisdiction: str | None = None) -> bool:
        """Whether the rate of ``category`` in ``jurisdiction`` is inside the price (an
        inclusive rate: :meth:`line_taxes` extracts it) rather than added to it. Raises as
        :meth:`rate` does."""
        if category is None:
            return False
        self.rate(category, jurisdiction)
        return (category, jurisdiction or self.jurisdiction) in self._inclusive

    def line_taxes(self, nets: Sequence[Decimal], rate: Decimal, quantum: Decimal, *,
                   inclusive: bool = False) -> list[Decimal]:
        """The tax of each of ``nets`` (one bill's lines at one ``rate``, percent) under the
        catalog's rule; the parts always sum to the rule's figure.

        ``inclusive``: each of ``nets`` is a price with the tax inside, and the tax is the
        part of it the rate makes up, ``price x rate / (100 + rate)`` (the net of tax is the
        price less that tax), rounded by the same rule."""
        with decimal.localcontext(_CTX):
            fraction = rate / (_HUNDRED + rate) if inclusive else rate / _HUNDRED
        mode = self.rounding.decimal_mode
        if not rate:
            zero = Decimal(0) * quantum
            return [zero for _ in nets]
        if not self.per_bill_rate or len(nets) == 1:
            with decimal.localcontext(_CTX):
                return [(n * fraction).quantize(quantum, mode) for n in nets]
        return self.spread_rounded(nets, fraction, quantum, mode)

    @staticmethod
    def spread_rounded(nets: Sequence[Decimal], fraction: Decimal, quantum: Decimal,
                       mode: str) -> list[Decimal]:
        """``sum(nets) x fraction`` rounded once, spread over the lines in proportion to their
        exact taxes (largest remainder, first line on ties): parts sum exactly to it."""
        with decimal.localcontext(_CTX):
            exact = [n * fraction for n in nets]
            total = sum(exact, Decimal(0)).quantize(quantum, mode)
            parts = [e.quantize(quantum, decimal.ROUND_DOWN) for e in exact]
            remainder = total - sum(parts, Decimal(0))
            step = quantum if remainder > 0 else -quantum
            order = sorted(range(len(parts)),
                           key=lambda i: ((parts[i] - exact[i]) * (1 if step > 0 else -1), i))
            i = 0
            while remainder and order:
                parts[order[i % len(order)]] += step
                remainder -= step
                i += 1
        return parts
