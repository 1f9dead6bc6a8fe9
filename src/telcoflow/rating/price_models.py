"""Price-model math: compile a catalog price model once, call it per event.

* :func:`compile_price` turns a :data:`~telcoflow.catalog.prices.PriceModel` into a small
  callable ``(quantity: Decimal) -> Decimal`` computing the exact amount (no rounding).
* :func:`compile_tariff` builds a :class:`CompiledTariff`: increments, rate selection by
  zone / band / slice class / region, unit conversion and the tariff's rounding policy;
  calling :meth:`CompiledTariff.rate` gives a :class:`RatedUsage` with a
  :class:`~telcoflow.money.Money` amount.
* :func:`compile_tariffs` compiles every tariff of a catalog; :func:`recurring_amount` prices
  a recurring fee (flat, or per device / line with a price model).

Exactness: amounts are computed as ``sum(units x price) / factor`` where ``factor`` converts
the usage unit to the price unit (60 for seconds priced per minute). Tier bounds are converted
by multiplication, so the only division is the last one, and it is exact whenever the result
has a finite decimal expansion (0.05/min for 60 s is exactly 0.05). A result with an infinite
expansion (0.10/min for 7 s) keeps 38 significant digits until a rounding policy applies.
All arithmetic runs in a local decimal context; the global context is never touched.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from telcoflow.catalog.common import UNIT_FACTORS
from telcoflow.catalog.model import Catalog
from telcoflow.catalog.offers import RecurringPrice
from telcoflow.catalog.prices import (
    CapacityPrice,
    GraduatedPrice,
    PackagePrice,
    PercentagePrice,
    PerUnitPrice,
    PriceModel,
    VolumePrice,
)
from telcoflow.catalog.usage import UsageTariff
from telcoflow.errors import MoneyError, RatingError
from telcoflow.money import MONEY_CONTEXT, Currency, Increment, Money, to_decimal

__all__ = [
    "CompiledTariff",
    "PriceFunction",
    "RatedUsage",
    "compile_price",
    "compile_tariff",
    "compile_tariffs",
    "price_amount",
    "recurring_amount",
    "unit_factor",
]

#: A compiled price model: quantity (after increments, in the usage unit) -> exact amount.
PriceFunction = Callable[[Decimal], Decimal]

_CTX = MONEY_CONTEXT
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


def unit_factor(unit: str, price_unit: str | None) -> Decimal:
    """How many ``unit`` make one ``price_unit`` (``unit_factor("second", "minute") == 60``)."""
    if price_unit is None or price_unit == unit:
        return _ONE
    with decimal.localcontext(_CTX):
        return UNIT_FACTORS[price_unit] / UNIT_FACTORS[unit]


def _over_last_tier(quantity: Decimal, bound: Decimal, factor: Decimal) -> RatingError:
    with decimal.localcontext(_CTX):
        shown = bound / factor
    return RatingError(
        f"quantity {quantity} is above the last tier (up to {shown} price units; "
        "add an open last tier without `up_to`)"
    )


class _PerUnit:
    __slots__ = ("factor", "price")

    def __init__(self, model: PerUnitPrice, factor: Decimal) -> None:
        self.price = model.unit_price
        self.factor = factor

    def __call__(self, quantity: Decimal) -> Decimal:
        with decimal.localcontext(_CTX):
            amount = quantity * self.price
            return amount if self.factor == _ONE else amount / self.factor


class _TierTable:
    """Tiers of a graduated or volume model as ``(bound in base units, price, flat fee)``."""

    __slots__ = ("factor", "tiers")

    def __init__(self, model: GraduatedPrice | VolumePrice, factor: Decimal) -> None:
        self.factor = factor
        with decimal.localcontext(_CTX):
            self.tiers = tuple(
                (None if t.up_to is None else t.up_to * factor, t.unit_price, t.flat_fee)
                for t in model.tiers
            )


class _Graduated(_TierTable):
    """Each tier's units at its price: ``cum + (q - lower) x price`` in the tier reached.

    The amounts at each tier's lower bound and the flat fees entered are summed once, so a
    call is one multiplication in our decimal context (its methods: no context switch).
    """

    __slots__ = ("_pieces",)

    def __init__(self, model: GraduatedPrice, factor: Decimal) -> None:
        super().__init__(model, factor)
        pieces = []
        cum = flats = lower = _ZERO
        with decimal.localcontext(_CTX):
            for bound, price, flat in self.tiers:
                flats += flat
                pieces.append((bound, lower, cum, price, flats))
                if bound is not None:
                    cum += (bound - lower) * price
                    lower = bound
        #: per tier: (bound, lower bound, amount at the lower bound, price, flat fees so far)
        self._pieces = tuple(pieces)

    def __call__(self, quantity: Decimal) -> Decimal:
        if quantity <= 0:  # the first tier starts at 0: its flat fee is due without usage
            return self.tiers[0][2]
        ctx = _CTX
        for bound, lower, cum, price, flats in self._pieces:
            if bound is None or quantity <= bound:
                units_total = ctx.add(cum, ctx.multiply(ctx.subtract(quantity, lower), price))
                if self.factor != _ONE:
                    units_total = ctx.divide(units_total, self.factor)
                return ctx.add(units_total, flats)
        raise _over_last_tier(quantity, self.tiers[-1][0] or _ZERO, self.factor)


class _Volume(_TierTable):
    __slots__ = ()

    def __call__(self, quantity: Decimal) -> Decimal:
        if quantity <= 0:  # the first tier starts at 0: its flat fee is due without usage
            return self.tiers[0][2]
        for bound, price, flat in self.tiers:
            if bound is None or quantity <= bound:
                with decimal.localcontext(_CTX):
                    amount = quantity * price
                    if self.factor != _ONE:
                        amount /= self.factor
                    return amount + flat
        raise _over_last_tier(quantity, self.tiers[-1][0] or _ZERO, self.factor)


class _Package:
    __slots__ = ("block", "free", "price")

    def __init__(self, model: PackagePrice, factor: Decimal) -> None:
        with decimal.localcontext(_CTX):
            self.block = model.block_size * factor
            self.free = model.free_units * factor
        self.price = model.block_price

    def __call__(self, quantity: Decimal) -> Decimal:
        if quantity <= self.free:
            return _ZERO
        with decimal.localcontext(_CTX):
            blocks = ((quantity - self.free) / self.block).to_integral_value(
                rounding=decimal.ROUND_CEILING
            )
            return blocks * self.price


class _Capacity:
    __slots__ = ("factor", "tiers")

    def __init__(self, model: CapacityPrice, factor: Decimal) -> None:
        self.factor = factor
        with decimal.localcontext(_CTX):
            self.tiers = tuple(
                (None if t.up_to is None else t.up_to * factor, t.price) for t in model.tiers
            )

    def __call__(self, quantity: Decimal) -> Decimal:
        if quantity <= 0:
            return _ZERO
        for bound, price in self.tiers:
            if bound is None or quantity <= bound:
                return price
        raise _over_last_tier(quantity, self.tiers[-1][0] or _ZERO, self.factor)


class _Percentage:
    __slots__ = ("maximum", "minimum", "rate")

    def __init__(self, model: PercentagePrice, factor: Decimal) -> None:
        with decimal.localcontext(_CTX):
            self.rate = model.percent / _HUNDRED
        self.minimum = model.minimum
        self.maximum = model.maximum

    def __call__(self, quantity: Decimal) -> Decimal:
        if quantity <= 0:
            return _ZERO
        with decimal.localcontext(_CTX):
            amount = quantity * self.rate
        if self.minimum is not None and amount < self.minimum:
            amount = self.minimum
        if self.maximum is not None and amount > self.maximum:
            amount = self.maximum
        return amount


_COMPILERS: Mapping[type, Callable[[object, Decimal], PriceFunction]] = {
    PerUnitPrice: _PerUnit,  # type: ignore[dict-item]
    GraduatedPrice: _Graduated,  # type: ignore[dict-item]
    VolumePrice: _Volume,  # type: ignore[dict-item]
    PackagePrice: _Package,  # type: ignore[dict-item]
    CapacityPrice: _Capacity,  # type: ignore[dict-item]
    PercentagePrice: _Percentage,  # type: ignore[dict-item]
}


def compile_price(model: PriceModel, *, factor: Decimal = _ONE) -> PriceFunction:
    """Compile ``model`` into ``quantity -> exact amount``.

    ``quantity`` is in the usage unit; ``factor`` is how many usage units make one price unit
    (tier bounds, block sizes and unit prices are in price units). Percentage models take an
    amount of money as their quantity and ignore ``factor``.

    >>> from telcoflow.catalog import PerUnitPrice
    >>> per_minute = compile_price(PerUnitPrice(unit_price=Decimal("0.05")), factor=Decimal(60))
    >>> per_minute(Decimal(60))
    Decimal('0.05')
    """
    if factor <= 0:
        raise MoneyError(f"`factor` must be > 0 (got {factor})")
    return _COMPILERS[type(model)](model, factor)


def price_amount(model: PriceModel, quantity: object, *, factor: Decimal = _ONE) -> Decimal:
    """One-off convenience: the exact amount of ``quantity`` (compile once for hot paths)."""
    return compile_price(model, factor=factor)(to_decimal(quantity, field="quantity"))


@dataclass(frozen=True, slots=True)
class RatedUsage:
    """The result of rating one usage quantity with a tariff."""

    tariff_id: str
    rate_id: str | None
    quantity: Decimal
    charged_quantity: Decimal
    amount: Money


class CompiledTariff:
    """A tariff ready to rate: increments, rate selection, unit conversion, rounding.

    Build with :func:`compile_tariff`; then call :meth:`rate` per event.
    """

    __slots__ = (
        "_additive",
        "_default",
        "_exponent",
        "_rates",
        "_selected",
        "currency",
        "factor",
        "increment",
        "tariff",
    )

    #: At most this many (zone, band, slice class, region) selections are remembered.
    CACHE_SIZE = 4096

    def __init__(self, tariff: UsageTariff, currency: Currency) -> None:
        self.tariff = tariff
        self.currency = currency
        self.factor = unit_factor(tariff.unit, tariff.price_unit)
        self.increment: Increment = tariff.increment.to_increment()
        self._default = compile_price(tariff.price, factor=self.factor)
        self._rates = tuple(
            (rate, compile_price(rate.price, factor=self.factor)) for rate in tariff.rates
        )
        #: rate id (None: the default price) -> whether its events can be priced one by one
        self._additive: dict[str | None, bool] = {
            None: _additive(tariff.price),
            **{rate.id: _additive(rate.price) for rate in tariff.rates},
        }
        places = tariff.rounding.places
        self._exponent = currency.exponent if places is None else places
        self._selected: dict[tuple[str | None, ...], tuple[str | None, PriceFunction]] = {}

    def charged_quantity(self, quantity: Decimal) -> Decimal:
        """The quantity charged after increments (``61`` s -> ``90`` s for 60 s then per 30 s)."""
        return self.increment.charged(quantity)

    def price_function(
        self,
        *,
        zone: str | None = None,
        band: str | None = None,
        slice_class: str | None = None,
        region: str | None = None,
    ) -> tuple[str | None, PriceFunction]:
        """The rate id (``None`` for the default price) and compiled price that apply."""
        key = (zone, band, slice_class, region)
        found = self._selected.get(key)
        if found is not None:
            return found
        found = (None, self._default)
        for rate, fn in self._rates:
            if rate.matches(zone=zone, band=band, slice_class=slice_class, region=region):
                found = (rate.id, fn)
                break
        if len(self._selected) >= self.CACHE_SIZE:
            self._selected.clear()
        self._selected[key] = found
        return found

    def cumulative(self, rate_id: str | None) -> bool:
        """Whether an event's amount at ``rate_id`` depends on the period's earlier usage.

        Per-unit prices without a period minimum or per-event rounding are additive (the
        amount of a sum is the sum of the amounts); percentages are per transaction by
        definition. Every other case is priced over the period: see :meth:`period_amount`.
        """
        return (not self._additive[rate_id] or self.tariff.rounding.per_event
                or self.tariff.minimum_charge is not None)

    def period_amount(self, fn: PriceFunction, quantity: Decimal) -> Decimal:
        """What ``quantity`` charged units in one period cost at the price ``fn``: the price
        model's amount, at least the tariff's ``minimum_charge``, rounded when the tariff
        rounds per event (then every event's share is a difference of rounded amounts, so the
        events of a period add up to the rounded amount of their total)."""
        try:
            amount = fn(quantity)
        except RatingError as exc:
            raise RatingError(f"tariff {self.tariff.id!r}: {exc}") from None
        tariff = self.tariff
        minimum = tariff.minimum_charge
        if minimum is not None and amount < minimum:
            amount = minimum
        if tariff.rounding.per_event:
            amount = tariff.rounding.policy.quantize(amount, self._exponent)
        return amount

    def rate(
        self,
        quantity: object,
        *,
        zone: str | None = None,
        band: str | None = None,
        slice_class: str | None = None,
        region: str | None = None,
        used_before: Decimal | None = None,
    ) -> RatedUsage:
        """Rate ``quantity`` (in the tariff's ``unit``) in the given context.

        ``used_before`` is the charged quantity already rated at this rate in the period
        (tiers then count from there: 30 GB then 35 GB cost what 65 GB costs, 33.00 for the
        data example); the amount is ``f(used_before + charged) - f(used_before)``, which can
        be negative for a volume price (all units move to a cheaper tier).
        The amount is exact unless the tariff's rounding says ``per_event: true``; then it is
        the difference of the rounded cumulative amounts, so the events of a period add up to
        the rounded amount of their total.
        Raises :class:`~telcoflow.errors.RatingError` for a negative or non-decimal quantity.
        """
        q = self._quantity(quantity, "quantity")
        charged = self.increment.charged(q)
        rate_id, fn = self.price_function(
            zone=zone, band=band, slice_class=slice_class, region=region
        )
        rounding = self.tariff.rounding
        try:
            if used_before is None or not used_before:
                amount = fn(charged)
                if rounding.per_event:
                    amount = rounding.policy.quantize(amount, self._exponent)
            else:
                before = self._quantity(used_before, "used_before")
                with decimal.localcontext(_CTX):
                    after = before + charged
                high, low = fn(after), fn(before)
                if rounding.per_event:
                    high = rounding.policy.quantize(high, self._exponent)
                    low = rounding.policy.quantize(low, self._exponent)
                with decimal.localcontext(_CTX):
                    amount = high - low
        except RatingError as exc:
            raise RatingError(f"tariff {self.tariff.id!r}: {exc}") from None
        return RatedUsage(self.tariff.id, rate_id, q, charged, Money(amount, self.currency))

    def _quantity(self, value: object, name: str) -> Decimal:
        if type(value) is Decimal and value.is_finite():
            q = value
        else:
            try:
                q = to_decimal(value, field=name)
            except MoneyError as exc:
                raise RatingError(f"tariff {self.tariff.id!r}: {exc}") from None
        if q < 0:
            raise RatingError(f"tariff {self.tariff.id!r}: `{name}` must be >= 0 (got {q})")
        return q


def _additive(model: PriceModel) -> bool:
    return isinstance(model, PerUnitPrice | PercentagePrice)


def compile_tariff(tariff: UsageTariff, currency: Currency | str) -> CompiledTariff:
    """Compile ``tariff``; ``currency`` is used when the tariff names none (the catalog's)."""
    cur = Currency.of(tariff.currency) if tariff.currency else Currency.of(currency)
    return CompiledTariff(tariff, cur)


def compile_tariffs(catalog: Catalog) -> dict[str, CompiledTariff]:
    """Compile every tariff of ``catalog``, by id."""
    return {t.id: compile_tariff(t, catalog.default_currency) for t in catalog.tariffs}


def recurring_amount(price: RecurringPrice, currency: Currency | str, count: int = 1) -> Money:
    """The full-period amount of a recurring fee (before proration).

    A flat fee ignores ``count``; a fee ``per`` device / line prices ``count`` items with its
    price model (e.g. graduated: first device included, next ones 5.00).
    """
    cur = Currency.of(price.currency) if price.currency else Currency.of(currency)
    if price.amount is not None:
        return Money(price.amount, cur)
    if price.price is None:  # excluded by the model's validator; keeps mypy honest
        raise RatingError(f"recurring price {price.id!r} has neither amount nor price")
    if count < 0:
        raise RatingError(f"recurring price {price.id!r}: `count` must be >= 0 (got {count})")
    return Money(compile_price(price.price)(Decimal(count)), cur)
