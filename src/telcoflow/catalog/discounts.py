"""Discounts: percentage or fixed, possibly capped, conditional on bundles, for a duration.

A discount is applied before tax and spread pro rata over the lines it covers (see
:mod:`telcoflow.rating.discounts`). ``duration`` says for how many bill cycles it applies:
``once`` (the first cycle), ``recurring`` (``cycles`` cycles) or ``forever``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from telcoflow.catalog.common import (
    Amount,
    CurrencyCode,
    Frozen,
    Id,
    IdList,
    Percent,
    Validity,
)

__all__ = [
    "Discount",
    "DiscountBase",
    "DiscountScope",
    "FixedDiscount",
    "PercentageDiscount",
    "PriceType",
]

#: The kinds of charge a discount can cover (``price_type`` of offering prices).
PriceType = Literal["recurring", "one_time", "usage", "external", "benefit"]


class DiscountScope(Frozen):
    """Which charge lines a discount covers; an empty list means "any"."""

    offerings: IdList = ()
    price_types: tuple[PriceType, ...] = ()
    tax_categories: IdList = ()

    def covers(
        self, *, offering: str | None, price_type: str | None, tax_category: str | None
    ) -> bool:
        """Whether a line of ``offering`` / ``price_type`` / ``tax_category`` is covered."""
        return (
            (not self.offerings or offering in self.offerings)
            and (not self.price_types or price_type in self.price_types)
            and (not self.tax_categories or tax_category in self.tax_categories)
        )


class DiscountBase(Validity):
    """Fields shared by every discount."""

    id: Id
    name: str = ""
    applies_to: DiscountScope = DiscountScope()
    requires_offerings: IdList = ()
    coupon_code: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    duration: Literal["once", "recurring", "forever"] = "forever"
    cycles: Annotated[int, Field(ge=1)] | None = None
    currency: CurrencyCode | None = None

    @model_validator(mode="after")
    def _cycles(self) -> DiscountBase:
        if (self.duration == "recurring") != (self.cycles is not None):
            raise ValueError("`cycles` is required with duration 'recurring' and only then")
        return self

    def active_in_cycle(self, index: int) -> bool:
        """Whether the discount applies in the ``index``-th cycle (0 = the first) it is held."""
        if index < 0:
            return False
        if self.duration == "once":
            return index == 0
        if self.duration == "recurring":
            return self.cycles is not None and index < self.cycles
        return True

    def eligible(self, held_offerings: set[str] | frozenset[str]) -> bool:
        """Whether the bundle condition holds: every required offering is held."""
        return all(o in held_offerings for o in self.requires_offerings)


class PercentageDiscount(DiscountBase):
    """``percent`` off the covered lines, at most ``cap`` per cycle."""

    kind: Literal["percentage"] = "percentage"
    percent: Percent
    cap: Amount | None = None


class FixedDiscount(DiscountBase):
    """A fixed ``amount`` off the covered lines (never more than they total)."""

    kind: Literal["fixed"] = "fixed"
    amount: Amount


#: Any discount, chosen by its ``kind:`` field.
Discount = Annotated[PercentageDiscount | FixedDiscount, Field(discriminator="kind")]
