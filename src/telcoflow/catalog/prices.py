"""Price models: how a quantity becomes an amount, as a discriminated union on ``model:``.

* ``per_unit``: every unit at ``unit_price``.
* ``graduated``: each tier's units at that tier's price; a tier's ``flat_fee`` is added as soon
  as the quantity enters the tier.
* ``volume``: all units at the price of the tier reached (plus that tier's ``flat_fee``).
* ``package``: ``block_price`` per started block of ``block_size`` units, after ``free_units``.
* ``capacity``: one flat ``price`` by the tier reached.
* ``percentage``: ``percent`` of an amount, with a per-transaction ``minimum`` / ``maximum``.

Tier bounds ``up_to`` are inclusive and strictly increasing; only the last tier may be open
(``up_to`` unset). The math lives in :mod:`telcoflow.rating.price_models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from telcoflow.catalog.common import Amount, Frozen, Percent, Quantity, Rate

__all__ = [
    "CapacityPrice",
    "CapacityTier",
    "GraduatedPrice",
    "PackagePrice",
    "PerUnitPrice",
    "PercentagePrice",
    "PriceModel",
    "Tier",
    "VolumePrice",
]


class Tier(Frozen):
    """One tier of a graduated or volume price: units up to ``up_to`` (inclusive)."""

    up_to: Quantity | None = None
    unit_price: Rate = Decimal(0)
    flat_fee: Amount = Decimal(0)


class CapacityTier(Frozen):
    """One tier of a capacity price: a flat ``price`` for quantities up to ``up_to``."""

    up_to: Quantity | None = None
    price: Amount


def _check_bounds(bounds: Sequence[Decimal | None]) -> None:
    if not bounds:
        raise ValueError("at least one tier is needed")
    previous: Decimal | None = None
    for i, bound in enumerate(bounds):
        if bound is None:
            if i != len(bounds) - 1:
                raise ValueError(f"only the last tier may be open (tier {i} has no `up_to`)")
            continue
        if previous is not None and bound <= previous:
            raise ValueError(
                f"tier bounds must increase (tier {i} `up_to` {bound} after {previous})"
            )
        if bound <= 0:
            raise ValueError(f"tier bounds must be > 0 (tier {i} `up_to` {bound})")
        previous = bound


class PerUnitPrice(Frozen):
    """Every unit at ``unit_price``."""

    model: Literal["per_unit"] = "per_unit"
    unit_price: Rate


class GraduatedPrice(Frozen):
    """Each tier's units at that tier's ``unit_price``, plus the ``flat_fee`` of each tier
    entered."""

    model: Literal["graduated"] = "graduated"
    tiers: tuple[Tier, ...]

    @model_validator(mode="after")
    def _bounds(self) -> GraduatedPrice:
        _check_bounds([t.up_to for t in self.tiers])
        return self


class VolumePrice(Frozen):
    """All units at the ``unit_price`` of the tier reached, plus that tier's ``flat_fee``."""

    model: Literal["volume"] = "volume"
    tiers: tuple[Tier, ...]

    @model_validator(mode="after")
    def _bounds(self) -> VolumePrice:
        _check_bounds([t.up_to for t in self.tiers])
        return self


class PackagePrice(Frozen):
    """``block_price`` per started block of ``block_size`` units, after ``free_units``."""

    model: Literal["package"] = "package"
    block_size: Annotated[Quantity, Field(gt=0)]
    block_price: Rate
    free_units: Quantity = Decimal(0)


class CapacityPrice(Frozen):
    """One flat price by the tier reached (zero quantity costs nothing)."""

    model: Literal["capacity"] = "capacity"
    tiers: tuple[CapacityTier, ...]

    @model_validator(mode="after")
    def _bounds(self) -> CapacityPrice:
        _check_bounds([t.up_to for t in self.tiers])
        return self


class PercentagePrice(Frozen):
    """``percent`` of an amount (the quantity), kept within ``minimum`` / ``maximum`` per
    transaction.

    ``minimum`` applies only to a non-zero amount: nothing charged on nothing.
    """

    model: Literal["percentage"] = "percentage"
    percent: Percent
    minimum: Amount | None = None
    maximum: Amount | None = None

    @model_validator(mode="after")
    def _range(self) -> PercentagePrice:
        if self.minimum is not None and self.maximum is not None and self.maximum < self.minimum:
            raise ValueError(f"maximum ({self.maximum}) must be >= minimum ({self.minimum})")
        return self


#: Any price model, chosen by its ``model:`` field.
PriceModel = Annotated[
    PerUnitPrice | GraduatedPrice | VolumePrice | PackagePrice | CapacityPrice | PercentagePrice,
    Field(discriminator="model"),
]
