"""Tax: which category a charge pays, at which rate, and how the tax rounds -- the one home
of the catalog's tax rules, used by the real-time ``Tax`` step, the cycle close and
:func:`~telcoflow.rating.settle.settle` alike.

* :class:`TaxContext`: who is taxed where (jurisdiction, account category, exemptions, day).
* :func:`resolve_tax_category` (precedence charge > offer > account > default) and
  :func:`tax_for` (one line's tax, exclusive or inclusive, rounded to the minor unit).
* :class:`TaxRules`: the catalog's tax (category of a charge, rate, inclusive or not, and
  the rounding rule ``tax_defaults.rule``: per line, or per bill and rate).

The catalog's model of tax categories, rates and exemptions is
:mod:`telcoflow.catalog.taxes`.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from telcoflow.catalog.model import Catalog
from telcoflow.catalog.offers import RecurringPrice, UsagePrice
from telcoflow.catalog.taxes import TaxRate
from telcoflow.errors import RatingError
from telcoflow.events import priced_item
from telcoflow.money import MONEY_CONTEXT, Money, RoundingPolicy

__all__ = ["TaxContext", "TaxRules", "resolve_tax_category", "tax_for"]

_CTX = MONEY_CONTEXT
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class TaxContext:
    """Who is taxed where: ``jurisdiction`` (default: the catalog's), the account's tax
    category, its exemption ids, and the day (for dated rates)."""

    jurisdiction: str | None = None
    account_tax_category: str | None = None
    exemptions: tuple[str, ...] = ()
    on: date | None = None


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

    def bill_taxes(self, nets: Sequence[Decimal], rates: Sequence[Decimal],
                   included: Sequence[bool], quantum: Decimal) -> list[Decimal]:
        """The tax of each line of one bill (``nets`` after discounts, each line's ``rates``
        in percent and whether each rate is ``included`` in the price) under the catalog's
        rule: per line, or once per bill and rate (:meth:`line_taxes` per group)."""
        zero = Decimal(0) * quantum
        if not self.per_bill_rate and not any(included):
            mode = self.rounding.decimal_mode
            with decimal.localcontext(_CTX):
                return [zero if not rate else (net * rate / _HUNDRED).quantize(quantum, mode)
                        for net, rate in zip(nets, rates, strict=True)]
        taxes = [zero] * len(nets)
        groups: dict[tuple[Decimal, bool], list[int]] = {}
        for i, (rate, inside) in enumerate(zip(rates, included, strict=True)):
            if rate:
                groups.setdefault((rate, inside), []).append(i)
        for (rate, inside), idx in groups.items():
            for i, tax in zip(idx, self.line_taxes([nets[i] for i in idx], rate, quantum,
                                                   inclusive=inside), strict=True):
                taxes[i] = tax
        return taxes

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
