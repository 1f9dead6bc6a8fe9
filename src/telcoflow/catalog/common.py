"""Shared building blocks of the catalog models.

* :data:`Amount`, :data:`Quantity`, :data:`Percent`: ``Decimal`` fields that refuse floats
  (through :func:`telcoflow.money.to_decimal`), so ``0.05`` in a catalog is exactly 0.05.
* :data:`CurrencyCode`, :data:`Id`, :data:`IdList`: validated codes and identifiers.
* :class:`Frozen`: the base of every catalog model (frozen, unknown fields forbidden).
* :class:`IncrementSpec`, :class:`RoundingSpec`, :class:`Validity`: small value models.
* :data:`UNIT_FACTORS`: the units of measure a tariff may use and how they convert.
"""

from __future__ import annotations

import decimal
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from telcoflow.errors import MoneyError, RatingError
from telcoflow.money import Currency, Increment, RoundingPolicy, to_decimal

__all__ = [
    "AMOUNT",
    "Amount",
    "CurrencyCode",
    "ExactDecimal",
    "Frozen",
    "Id",
    "IdList",
    "IncrementSpec",
    "Percent",
    "MoneyKind",
    "Quantity",
    "RATE",
    "Rate",
    "RoundingSpec",
    "UNIT_ALIASES",
    "UNIT_FACTORS",
    "UNIT_KINDS",
    "Validity",
    "convert_quantity",
    "unit_conversion",
]


def _decimal(value: Any) -> Decimal:
    try:
        return to_decimal(value, field="value")
    except MoneyError as exc:  # pydantic turns ValueError into a located validation error
        raise ValueError(str(exc).replace("`value` must", "must")) from None


def _currency(value: str) -> str:
    try:
        Currency.of(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None
    return value


class MoneyKind(str):
    """Marks a field's money kind in its ``Annotated`` metadata: ``"amount"`` (a sum of money:
    at most the currency's minor units, see :func:`telcoflow.money.check_minor_units`) or
    ``"rate"`` (a price per unit: any number of decimals)."""

    __slots__ = ()


AMOUNT = MoneyKind("amount")
RATE = MoneyKind("rate")

#: Any exact decimal (may be negative), never a float: the base of the types below.
ExactDecimal = Annotated[Decimal, BeforeValidator(_decimal)]
#: A decimal amount of money (the currency comes from the enclosing price or the catalog);
#: once the catalog is whole, it may have no more decimals than that currency's minor unit.
Amount = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0), AMOUNT]
#: A price per unit (``unit_price``, ``block_price``): money, but any number of decimals.
Rate = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0), RATE]
#: A decimal quantity (units, seconds, MB, ...), never a float.
Quantity = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0)]
#: A percentage between 0 and 100 (``8`` means 8 %).
Percent = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0, le=100)]
#: An ISO 4217 currency code such as ``EUR``.
CurrencyCode = Annotated[str, AfterValidator(_currency)]
#: An identifier: letters, digits, ``-``, ``_``, ``.`` and ``:``; starts with a letter or digit.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=120)]
#: A list of identifiers.
IdList = tuple[Id, ...]

#: Unit kinds: a tariff's usage unit and price unit must be of the same kind.
UNIT_KINDS: dict[str, str] = {
    "byte": "data", "KB": "data", "MB": "data", "GB": "data", "TB": "data",
    "KiB": "data", "MiB": "data", "GiB": "data",
    "second": "time", "minute": "time", "hour": "time", "day": "time",
    "event": "count", "message": "count", "unit": "count", "device": "count",
    "money": "money",
}

#: How many bytes / seconds / events one unit is. ``KB``/``MB``/``GB`` are decimal (1 GB = 1000
#: MB, as most operators bill); ``KiB``/``MiB``/``GiB`` are binary (1 GiB = 1024 MiB).
UNIT_FACTORS: dict[str, Decimal] = {
    "byte": Decimal(1), "KB": Decimal(10) ** 3, "MB": Decimal(10) ** 6, "GB": Decimal(10) ** 9,
    "TB": Decimal(10) ** 12, "KiB": Decimal(2) ** 10, "MiB": Decimal(2) ** 20,
    "GiB": Decimal(2) ** 30,
    "second": Decimal(1), "minute": Decimal(60), "hour": Decimal(3600), "day": Decimal(86400),
    "event": Decimal(1), "message": Decimal(1), "unit": Decimal(1), "device": Decimal(1),
    "money": Decimal(1),
}


class Frozen(BaseModel):
    """Base of every catalog model: immutable, unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class IncrementSpec(Frozen):
    """Rating increments in the tariff's usage unit: ``minimum`` first, then per started ``step``.

    ``{minimum: 60, step: 30}`` is "60 s minimum then per started 30 s"; ``{step: 1}`` with
    unit ``MB`` is "per started MB"; ``{step: 0}`` charges the exact quantity.
    """

    step: Quantity = Decimal(1)
    minimum: Quantity = Decimal(0)

    def to_increment(self) -> Increment:
        """The :class:`telcoflow.money.Increment` that applies these increments."""
        return Increment(step=self.step, minimum=self.minimum)


class RoundingSpec(Frozen):
    """A tariff's rounding policy.

    ``policy`` (default ``half-up``: what customers and regulators expect on an invoice) is the
    mode used wherever this tariff's amounts are rounded. ``per_event: false`` (default) keeps
    rated amounts exact and leaves rounding to the bill line; ``per_event: true`` rounds each
    rated event to ``places`` decimals (default: the currency's minor unit).
    """

    policy: RoundingPolicy = RoundingPolicy.HALF_UP
    per_event: bool = False
    places: Annotated[int, Field(ge=0, le=8)] | None = None


class Validity(Frozen):
    """Validity dates (both inclusive; open when unset). Mixed into versioned models."""

    valid_from: date | None = None
    valid_to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Validity:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(
                f"valid_to ({self.valid_to}) must not be before valid_from ({self.valid_from})"
            )
        return self

    def is_valid_on(self, day: date) -> bool:
        """Whether ``day`` falls within the validity dates."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return not (self.valid_to is not None and day > self.valid_to)


#: Short names usage records often carry, and the unit each stands for.
UNIT_ALIASES: dict[str, str] = {
    "B": "byte", "bytes": "byte", "kB": "KB", "s": "second", "sec": "second",
    "seconds": "second", "min": "minute", "minutes": "minute", "h": "hour", "hours": "hour",
    "msg": "message", "messages": "message", "sms": "message", "events": "event",
    "units": "unit", "devices": "device",
}

_CONVERSION = decimal.Context(prec=60, traps=[decimal.Inexact, decimal.InvalidOperation,
                                              decimal.Overflow])


def unit_conversion(unit: str, to_unit: str) -> tuple[Decimal, Decimal]:
    """How a quantity in ``unit`` becomes one in ``to_unit``: ``(multiply by, divide by)``
    (``unit_conversion("GB", "MB") == (10**9, 10**6)``); ``unit`` may be an alias (``s``,
    ``msg``...).

    Raises :class:`~telcoflow.errors.RatingError` for an unknown unit or a unit of another
    kind (MB into seconds).
    """
    source = UNIT_ALIASES.get(unit, unit)
    if source not in UNIT_FACTORS:
        raise RatingError(f"unknown unit {unit!r} (expected one of {sorted(UNIT_FACTORS)} "
                          f"or an alias {sorted(UNIT_ALIASES)})")
    if UNIT_KINDS[source] != UNIT_KINDS[to_unit]:
        raise RatingError(f"a quantity in {unit!r} ({UNIT_KINDS[source]}) cannot be rated in "
                          f"{to_unit!r} ({UNIT_KINDS[to_unit]})")
    return UNIT_FACTORS[source], UNIT_FACTORS[to_unit]


def convert_quantity(quantity: Decimal, unit: str, to_unit: str) -> Decimal:
    """``quantity`` in ``unit``, expressed in ``to_unit`` when that is exact.

    Raises :class:`~telcoflow.errors.RatingError` otherwise (7 s are not a finite decimal
    number of minutes) and for units of unknown or other kinds.

    >>> convert_quantity(Decimal("1.5"), "GB", "MB"), convert_quantity(Decimal(90), "s", "minute")
    (Decimal('1500'), Decimal('1.5'))
    """
    multiply, divide = unit_conversion(unit, to_unit)
    try:
        with decimal.localcontext(_CONVERSION):
            if multiply == divide:
                return quantity
            result = quantity * multiply / divide
            integral = result.to_integral_value()
            return integral if result == integral else result.normalize()
    except (decimal.Inexact, decimal.InvalidOperation, decimal.Overflow):
        raise RatingError(f"{quantity} {unit} is not an exact quantity of {to_unit}; send "
                          f"usage in {to_unit} or in a unit that converts exactly") from None
