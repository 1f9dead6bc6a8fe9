"""Product offerings (TMF620 ``ProductOffering``) and their prices.

* :class:`ProductOffering`: a versioned, dated offer with prices, allowances, benefits,
  an optional 5G slice pass and a tax category.
* :data:`ProductOfferingPrice`: a discriminated union on ``price_type``:
  :class:`RecurringPrice` (period, in advance / in arrears, day-based proration, optionally
  priced per device or line), :class:`OneTimePrice`, :class:`UsagePrice` (points at a
  tariff) and :class:`ExternalPrice` (charged by a partner, passed on).
* :class:`Partner`, :class:`Benefit` (a partner service bundled in an offer: customer price,
  partner cost, revenue share), :class:`SlicePass`.
"""

from __future__ import annotations

from decimal import Decimal
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
from telcoflow.catalog.prices import PriceModel

__all__ = [
    "Benefit",
    "ExternalPrice",
    "LifecycleStatus",
    "OfferingKind",
    "OneTimePrice",
    "Partner",
    "ProductOffering",
    "ProductOfferingPrice",
    "RecurringPrice",
    "SlicePass",
    "UsagePrice",
]

#: TMF620 ``lifecycleStatus`` values telcoflow uses.
LifecycleStatus = Literal["in_design", "active", "retired"]
#: What kind of offer this is (drives journeys and credit control, not pricing).
OfferingKind = Literal["prepaid", "postpaid", "family", "pass", "add_on", "device"]


class RecurringPrice(Frozen):
    """A recurring fee (TMF620 priceType ``recurring``).

    Either a flat ``amount`` per ``period``, or a ``price`` model applied to the number of
    ``per`` items (devices or lines) held, e.g. a family plan priced by 5G devices.
    ``timing: in_advance`` charges a period at its start, ``in_arrears`` at its end;
    ``prorate: true`` charges part periods by day. ``cycles`` limits the number of periods
    (device instalments); unset means until the product ends.
    """

    price_type: Literal["recurring"] = "recurring"
    id: Id
    name: str = ""
    amount: Amount | None = None
    per: Literal["device", "line"] | None = None
    price: PriceModel | None = None
    currency: CurrencyCode | None = None
    period: Literal["month", "week", "day"] = "month"
    timing: Literal["in_advance", "in_arrears"] = "in_advance"
    prorate: bool = True
    cycles: Annotated[int, Field(ge=1)] | None = None
    tax_category: Id | None = None

    @model_validator(mode="after")
    def _amount_or_price(self) -> RecurringPrice:
        if (self.amount is None) == (self.price is None):
            raise ValueError("give exactly one of `amount` (flat fee) or `price` (with `per`)")
        if (self.price is None) != (self.per is None):
            raise ValueError("`price` and `per` go together (a price model per device or line)")
        return self


class OneTimePrice(Frozen):
    """A one-time fee (TMF620 priceType ``oneTime``): activation, device, SIM, termination."""

    price_type: Literal["one_time"] = "one_time"
    id: Id
    name: str = ""
    amount: Amount
    currency: CurrencyCode | None = None
    trigger: Literal["purchase", "activation", "change", "termination"] = "purchase"
    tax_category: Id | None = None


class UsagePrice(Frozen):
    """Usage charges (TMF620 priceType ``usage``): priced by the referenced ``tariff``.

    ``aggregation`` is the scope whose period usage the tariff's tiers count: each
    ``subscriber`` (line) on its own (the default), or the whole ``account`` (a shared plan:
    every line of the account fills the same tiers).
    """

    price_type: Literal["usage"] = "usage"
    id: Id
    name: str = ""
    tariff: Id
    tax_category: Id | None = None
    aggregation: Literal["subscriber", "account"] = "subscriber"


class ExternalPrice(Frozen):
    """A fee charged by a partner and passed on to the customer.

    ``amount`` is the expected fee (unset when the partner sends it with each charge);
    ``markup_percent`` is added on top.
    """

    price_type: Literal["external"] = "external"
    id: Id
    name: str = ""
    partner: Id
    amount: Amount | None = None
    currency: CurrencyCode | None = None
    markup_percent: Percent = Decimal(0)
    tax_category: Id | None = None


#: Any offering price, chosen by its ``price_type:`` field.
ProductOfferingPrice = Annotated[
    RecurringPrice | OneTimePrice | UsagePrice | ExternalPrice,
    Field(discriminator="price_type"),
]


class Partner(Frozen):
    """A partner that provides benefits or charges external fees."""

    id: Id
    name: str = ""


class Benefit(Frozen):
    """A partner service bundled into offers (e.g. a video membership).

    ``customer_price`` is what the customer pays each ``period`` (0 when included),
    ``partner_cost`` what the operator pays the partner, ``revenue_share_percent`` the share of
    the customer price the operator keeps.
    """

    id: Id
    name: str = ""
    partner: Id
    customer_price: Amount = Decimal(0)
    partner_cost: Amount = Decimal(0)
    revenue_share_percent: Percent = Decimal(0)
    currency: CurrencyCode | None = None
    period: Literal["month", "week", "day"] = "month"
    tax_category: Id | None = None


class SlicePass(Frozen):
    """Access to a 5G slice class for a while, in some regions (e.g. a stadium pass)."""

    slice_class: Id
    regions: IdList = ()
    duration_hours: Annotated[int, Field(ge=1)]


class ProductOffering(Validity):
    """A TMF620 product offering: versioned, dated, with its prices and inclusions.

    Several versions of one ``id`` may coexist with non-overlapping validity dates; the
    catalog picks the version valid on a given day.
    """

    id: Id
    version: Annotated[int, Field(ge=1)] = 1
    name: str = ""
    description: str = ""
    kind: OfferingKind = "postpaid"
    lifecycle_status: LifecycleStatus = "active"
    tax_category: Id | None = None
    prices: tuple[ProductOfferingPrice, ...] = ()
    allowances: IdList = ()
    benefits: IdList = ()
    slice_pass: SlicePass | None = None
    regions: IdList = ()
    max_devices: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _price_ids(self) -> ProductOffering:
        seen: set[str] = set()
        for price in self.prices:
            if price.id in seen:
                raise ValueError(f"price id {price.id!r} is used twice in offering {self.id!r}")
            seen.add(price.id)
        return self
