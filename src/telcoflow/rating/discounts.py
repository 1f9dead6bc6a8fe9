"""Discounts: how much a discount takes off the lines it covers and how that amount is
spread over them -- the one home of discount arithmetic, used by
:func:`~telcoflow.rating.settle.settle` (rule-pack tests, quotes) and the cycle close.

* :func:`discount_value`: a percentage (capped) or fixed amount over a covered total.
* :func:`spread`: an amount split pro rata over lines, parts summing exactly to it
  (:func:`telcoflow.money.allocate`).
* :func:`apply_discounts`: discounts in order over charge lines (scope, cycle, bundle).
* :class:`PreparedDiscount`: a catalog discount rounded once to a currency's minor unit,
  for closing many accounts (:meth:`PreparedDiscount.amount_on`).

The catalog's model of discounts (scope, duration, bundles, coupons) is
:mod:`telcoflow.catalog.discounts`; the real-time per-account discount rules are
:class:`telcoflow.accounts.DiscountRule`, applied by the graph's ``Discount`` step.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from telcoflow.catalog.discounts import Discount, DiscountScope, FixedDiscount
from telcoflow.errors import CurrencyMismatchError, RatingError
from telcoflow.money import MONEY_CONTEXT, Currency, Money, RoundingPolicy

__all__ = [
    "AppliedDiscount",
    "ChargeLine",
    "PreparedDiscount",
    "apply_discounts",
    "discount_value",
    "spread",
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
class AppliedDiscount:
    """A discount as applied: its total and its part on each covered line."""

    discount_id: str
    amount: Money
    parts: dict[str, Money] = field(default_factory=dict)


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




class PreparedDiscount:
    """A catalog discount prepared for one currency's minor unit: its fixed amount and cap
    rounded once (by the close policy's rounding ``mode``), for closing many accounts."""

    __slots__ = ("amount", "cap", "coupon", "description", "id", "percent", "requires",
                 "scope", "spec", "value")

    def __init__(self, spec: Discount, quantum: Decimal, mode: str) -> None:
        self.spec = spec
        self.id = spec.id
        self.description = spec.name or spec.id
        self.scope: DiscountScope = spec.applies_to
        self.requires = frozenset(spec.requires_offerings)
        self.coupon = spec.coupon_code
        self.value: Decimal
        self.cap: Decimal | None
        if isinstance(spec, FixedDiscount):
            self.percent = False
            self.value = spec.amount
            self.cap = None
        else:
            self.percent = True
            self.value = spec.percent
            self.cap = None if spec.cap is None else spec.cap.quantize(quantum, mode)
        self.amount = self.value.quantize(quantum, mode)  # a fixed discount, rounded

    def covers(self, offering: str | None, price_type: str | None,
               tax_category: str | None) -> bool:
        """Whether the discount's scope covers a line of ``offering``, ``price_type`` and
        ``tax_category``."""
        return self.scope.covers(offering=offering, price_type=price_type,
                                 tax_category=tax_category)

    def amount_on(self, base: Decimal, currency: str, quantum: Decimal, mode: str) -> Decimal:
        """What the discount takes off lines totalling ``base`` (> 0) in ``currency``: a
        percentage rounded by ``mode`` or the fixed amount, capped, never more than ``base``.
        A fixed discount in another currency raises
        :class:`~telcoflow.errors.CurrencyMismatchError`."""
        if self.percent:
            with decimal.localcontext(_CTX):
                amount = (base * self.value / _HUNDRED).quantize(quantum, mode)
        else:
            fixed = self.spec
            if (isinstance(fixed, FixedDiscount) and fixed.currency is not None
                    and fixed.currency != currency):
                raise CurrencyMismatchError(
                    f"discount {self.id!r} is in {fixed.currency}, the lines in {currency}")
            amount = self.amount
        if self.cap is not None and amount > self.cap:
            amount = self.cap
        return min(amount, base)
