"""Usage tariffs and allowances.

* :class:`UsageTariff`: how one service (data, voice, SMS, 5G slice usage, generic units) is
  priced: usage ``unit``, ``increment``, ``price_unit``, a default ``price`` (any price model)
  and ``rates`` that override it by zone, time band, slice class or region (first match wins).
* :class:`Allowance`: a bucket of MB, minutes, SMS or money, consumed before money by
  ``priority`` (lower first), with a validity and an optional rollover.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from telcoflow.catalog.common import (
    UNIT_KINDS,
    Amount,
    CurrencyCode,
    Frozen,
    Id,
    IdList,
    IncrementSpec,
    Quantity,
    RoundingSpec,
)
from telcoflow.catalog.prices import PriceModel

__all__ = [
    "Allowance",
    "AllowanceValidity",
    "ConnectFee",
    "Rollover",
    "Service",
    "TariffRate",
    "Unit",
    "UsageTariff",
]

#: The services usage is rated for.
Service = Literal["data", "voice", "sms", "slice", "units"]
#: Units of measure (see :data:`telcoflow.catalog.common.UNIT_FACTORS`).
Unit = Literal[
    "byte", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB",
    "second", "minute", "hour", "day",
    "event", "message", "unit", "device", "money",
]

_SERVICE_UNIT_KINDS: dict[str, frozenset[str]] = {
    "data": frozenset({"data"}),
    "voice": frozenset({"time"}),
    "sms": frozenset({"count"}),
    "slice": frozenset({"data", "time", "count"}),
    "units": frozenset({"data", "time", "count", "money"}),
}


def _check_unit(service: str, unit: str, what: str) -> None:
    allowed = _SERVICE_UNIT_KINDS[service]
    if UNIT_KINDS[unit] not in allowed:
        raise ValueError(
            f"{what} {unit!r} does not fit service {service!r} "
            f"(expected a unit of kind {', '.join(sorted(allowed))})"
        )


class TariffRate(Frozen):
    """A rate that replaces the tariff's default price where all its selectors match.

    An empty selector matches anything: ``{zones: [roam-eu], price: ...}`` applies in the EU
    roaming zone at any time, on any slice, in any region.
    """

    id: Id
    zones: IdList = ()
    bands: IdList = ()
    slice_classes: IdList = ()
    regions: IdList = ()
    price: PriceModel

    def matches(
        self,
        *,
        zone: str | None = None,
        band: str | None = None,
        slice_class: str | None = None,
        region: str | None = None,
    ) -> bool:
        """Whether this rate applies in ``zone`` / ``band`` / ``slice_class`` / ``region``."""
        return (
            (not self.zones or zone in self.zones)
            and (not self.bands or band in self.bands)
            and (not self.slice_classes or slice_class in self.slice_classes)
            and (not self.regions or region in self.regions)
        )


class ConnectFee(Frozen):
    """A set-up fee: ``amount`` per ``call`` (every usage record) or per ``session`` (the
    first record of each session id; records without a session id count as one call each)."""

    amount: Amount
    per: Literal["call", "session"] = "call"


class UsageTariff(Frozen):
    """How usage of one service is priced.

    Quantities arrive in ``unit`` (e.g. seconds), are rounded up by ``increment`` (in ``unit``),
    then priced by the price model whose quantities and tier bounds are in ``price_unit``
    (e.g. minutes; defaults to ``unit``). ``currency`` defaults to the catalog's.

    Prices apply to the usage of a whole period (the bill cycle): tiers, packages, capacity
    and volume prices count the period's usage in their aggregation scope (see
    :class:`~telcoflow.catalog.offers.UsagePrice`), and ``minimum_charge`` is the least the
    period's usage of this tariff costs, also when there was none. ``connect_fee`` is added
    per call or per session.
    """

    id: Id
    name: str = ""
    service: Service
    unit: Unit
    price_unit: Unit | None = None
    increment: IncrementSpec = IncrementSpec(step=Decimal(0))
    rounding: RoundingSpec = RoundingSpec()
    currency: CurrencyCode | None = None
    tax_category: Id | None = None
    price: PriceModel
    rates: tuple[TariffRate, ...] = ()
    minimum_charge: Amount | None = None
    connect_fee: ConnectFee | None = None

    @model_validator(mode="after")
    def _units(self) -> UsageTariff:
        _check_unit(self.service, self.unit, "unit")
        if self.price_unit is not None and UNIT_KINDS[self.price_unit] != UNIT_KINDS[self.unit]:
            raise ValueError(
                f"price_unit {self.price_unit!r} cannot measure usage in {self.unit!r} "
                f"(expected a {UNIT_KINDS[self.unit]} unit)"
            )
        if self.minimum_charge is not None and any(
                p.model == "percentage" for p in (self.price, *(r.price for r in self.rates))):
            raise ValueError("`minimum_charge` cannot apply to a percentage price (its "
                             "`minimum` is per transaction)")
        seen: set[str] = set()
        for rate in self.rates:
            if rate.id in seen:
                raise ValueError(f"rate id {rate.id!r} is used twice in tariff {self.id!r}")
            seen.add(rate.id)
        return self

    def select_price(
        self,
        *,
        zone: str | None = None,
        band: str | None = None,
        slice_class: str | None = None,
        region: str | None = None,
    ) -> tuple[str | None, PriceModel]:
        """The first matching rate's id and price, or ``(None, price)`` for the default."""
        for rate in self.rates:
            if rate.matches(zone=zone, band=band, slice_class=slice_class, region=region):
                return rate.id, rate.price
        return None, self.price


class AllowanceValidity(Frozen):
    """How long an allowance lasts: the bill ``cycle``, or a number of ``days`` / ``hours``."""

    period: Literal["cycle", "days", "hours"] = "cycle"
    length: Annotated[int, Field(ge=1)] = 1


class Rollover(Frozen):
    """Unused units carried to the next validity period, up to ``max_quantity``, for
    ``max_periods`` periods."""

    max_quantity: Quantity | None = None
    max_periods: Annotated[int, Field(ge=1)] = 1


class Allowance(Frozen):
    """A bucket of units (MB, minutes, SMS) or of money, consumed before paying.

    Buckets are consumed by ``priority`` (lower first). ``tariffs`` and ``zones`` narrow what
    the bucket covers (empty: every tariff of its ``service`` / every zone). ``unit: money``
    makes it a money bucket in ``currency`` (default: the catalog's).
    """

    id: Id
    name: str = ""
    service: Service | Literal["money"]
    quantity: Quantity
    unit: Unit
    priority: int = 100
    validity: AllowanceValidity = AllowanceValidity()
    rollover: Rollover | None = None
    tariffs: IdList = ()
    zones: IdList = ()
    currency: CurrencyCode | None = None

    @model_validator(mode="after")
    def _unit(self) -> Allowance:
        if self.service == "money":
            if self.unit != "money":
                raise ValueError(f"a money allowance needs unit 'money' (found {self.unit!r})")
        else:
            _check_unit(self.service, self.unit, "unit")
        return self
