"""Billing events and rated output (TM Forum TMF635 vocabulary where it fits).

The internal form of every event is a ``__slots__`` dataclass: cheap to build on the hot
path (millions per minute), no validation beyond types. Validation happens once in the
graph's ``validate`` step; pydantic is used only at the edge (:class:`UsageEventIn` turns
a TMF635-shaped JSON usage into a :class:`UsageEvent`).

Event kinds:

- :class:`UsageEvent` -- one record of consumption (data MB, voice seconds, SMS count) with
  its characteristics (zone, region, slice, QoS class, device, rating group);
- :class:`FeeEvent` -- a recurring, one-time or external (partner) fee with its amount;
- :class:`LifecycleEvent` -- activate, change offer, add / remove device, suspend, resume,
  terminate (these post prorated recurring fees);
- :class:`PaymentEvent` -- a payment (postpaid) or a top-up (prepaid balance).

Rated output is :class:`RatedRecord`, whose :meth:`RatedRecord.to_tmf635` gives the TMF635
v4.0.0 ``Usage`` resource with its ``ratedProductUsage`` list (valid against the official
schema: numbers as numbers, zoned date-times).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from telcoflow.money import to_decimal

__all__ = [
    "Charge",
    "Event",
    "FeeEvent",
    "LifecycleEvent",
    "Notification",
    "PaymentEvent",
    "RatedRecord",
    "UsageCharacteristicIn",
    "UsageEvent",
    "UsageEventIn",
    "TMF635_USAGE_SCHEMA",
    "base_item_type",
    "fingerprint",
    "local_fingerprint",
    "price_item_type",
    "priced_item",
    "same_payload",
]

ZERO = Decimal(0)

FEE_TYPES = frozenset({"recurring", "one_time", "external"})
LIFECYCLE_ACTIONS = frozenset(
    {"activate", "change_offer", "add_device", "remove_device", "suspend", "resume", "terminate",
     "open_period", "add_offer", "remove_offer"}
)
PAYMENT_TYPES = frozenset({"payment", "top_up"})


def price_item_type(offering: str, price: str) -> str:
    """The ledger item type of one catalog recurring price's fee when it is not the plan's
    own fee (an add-on's membership, a plan's instalment): ``recurring:<offering>/<price>``.

    Such a fee keeps its own ledger line, and so its own bill line, tax category,
    description and discounts; everything that sorts charges by kind (splits, discounts
    given in real time, prepaid funding, a payer's ``item_types``) sees it as
    ``recurring`` (:func:`base_item_type`).

    >>> price_item_type("music-plus", "membership")
    'recurring:music-plus/membership'
    """
    return f"recurring:{offering}/{price}"


def base_item_type(item_type: str) -> str:
    """The kind of charge an item type is: ``recurring`` for a :func:`price_item_type`, the
    item type itself otherwise.

    >>> base_item_type("recurring:music-plus/membership"), base_item_type("data")
    ('recurring', 'data')
    """
    return item_type.partition(":")[0]


def priced_item(item_type: str) -> tuple[str, str] | None:
    """``(offering, price id)`` of a :func:`price_item_type`, else ``None``.

    >>> priced_item("recurring:music-plus/membership")
    ('music-plus', 'membership')
    """
    kind, sep, rest = item_type.partition(":")
    if not sep or kind != "recurring":
        return None
    offering, sep, price = rest.rpartition("/")
    return (offering, price) if sep and offering and price else None


@dataclass(slots=True)
class UsageEvent:
    """One usage record (TMF635 ``Usage``): who, when, how much, where and how.

    ``quantity`` is in ``unit`` (``MB``, ``s``, ``msg``); ``zone`` is ``home`` or a roaming
    zone; ``slice`` a 5G slice / service type (``eMBB``, ``URLLC``, ``mMTC``); ``rating_group``
    the 3GPP rating group; ``session`` the call or data session the record belongs to (a
    tariff's connect fee ``per: session`` is charged once per session).
    """

    id: str
    subscriber: str
    account: str
    usage_type: str
    start: datetime
    quantity: Decimal
    unit: str = "MB"
    zone: str = "home"
    region: str = ""
    slice: str = ""
    qos: str = ""
    device: str = ""
    rating_group: int = 0
    session: str = ""

    kind: ClassVar[str] = "usage"

    def canonical(self) -> str:
        """A stable text of every field, for payload fingerprints."""
        text = (
            f"u|{self.subscriber}|{self.account}|{self.usage_type}|{_when(self.start)}|"
            f"{self.quantity}|{self.unit}|{self.zone}|{self.region}|{self.slice}|{self.qos}|"
            f"{self.device}|{self.rating_group}"
        )  # the session only when set: fingerprints of earlier events stay the same
        return f"{text}|{self.session}" if self.session else text


@dataclass(slots=True)
class FeeEvent:
    """A recurring, one-time or external (partner) fee of ``amount`` in ``currency``."""

    id: str
    subscriber: str
    account: str
    fee_type: str
    start: datetime
    amount: Decimal
    currency: str = "EUR"
    description: str = ""

    kind: ClassVar[str] = "fee"

    def canonical(self) -> str:
        """A stable text of every field, for payload fingerprints."""
        return (
            f"f|{self.subscriber}|{self.account}|{self.fee_type}|{_when(self.start)}|"
            f"{self.amount}|{self.currency}|{self.description}"
        )


@dataclass(slots=True)
class LifecycleEvent:
    """A subscription lifecycle event.

    ``action`` is one of ``activate``, ``change_offer``, ``add_device``, ``remove_device``,
    ``suspend``, ``resume``, ``terminate``, ``add_offer``, ``remove_offer``. ``offer`` is the
    offer activated or changed to, or the add-on / pass taken or dropped (``add_offer``,
    ``remove_offer``: on top of the line's offer; see :mod:`telcoflow.offers.graph`);
    ``previous_offer`` the one changed from (for ``change_offer``) or ended (``terminate``).
    """

    id: str
    subscriber: str
    account: str
    action: str
    start: datetime
    offer: str = ""
    previous_offer: str = ""
    device: str = ""

    kind: ClassVar[str] = "lifecycle"

    def canonical(self) -> str:
        """A stable text of every field, for payload fingerprints."""
        return (
            f"l|{self.subscriber}|{self.account}|{self.action}|{_when(self.start)}|"
            f"{self.offer}|{self.previous_offer}|{self.device}"
        )


@dataclass(slots=True)
class PaymentEvent:
    """A payment (``payment_type="payment"``) or a prepaid top-up (``"top_up"``)."""

    id: str
    account: str
    payment_type: str
    start: datetime
    amount: Decimal
    currency: str = "EUR"
    subscriber: str = ""

    kind: ClassVar[str] = "payment"

    def canonical(self) -> str:
        """A stable text of every field, for payload fingerprints."""
        return (
            f"p|{self.subscriber}|{self.account}|{self.payment_type}|{_when(self.start)}|"
            f"{self.amount}|{self.currency}"
        )


Event = UsageEvent | FeeEvent | LifecycleEvent | PaymentEvent


def _when(at: datetime) -> str:
    """A stable, cheap text of a datetime (ordinal day and time of day, UTC offset)."""
    offset = at.utcoffset() if at.tzinfo is not None else None
    return (f"{at.toordinal()}.{at.hour * 3600 + at.minute * 60 + at.second}."
            f"{at.microsecond}{offset or ''}")


def fingerprint(event: Event) -> str:
    """A stable digest of an event's payload (the same across processes and runs).

    Two events with the same id and the same fingerprint are the same event (a replay);
    the same id with another fingerprint is a conflicting event and is rejected.
    """
    return hashlib.blake2b(event.canonical().encode(), digest_size=10).hexdigest()


def local_fingerprint(event: Event) -> str:
    """A cheap payload fingerprint valid inside this process only (``~`` + hex digits).

    It hashes the payload fields (quantities and amounts by their text, times as local time
    and UTC offset, as the digest does), so two events have the same local fingerprint
    exactly when they have the same :func:`fingerprint` (up to 64-bit hash collisions), for
    a tenth of its cost.
    Python salts string hashes per process, so only a store that lives and dies with the
    process (the in-memory store) may keep it; compare with :func:`same_payload`.
    """
    start = event.start
    offset = None
    if start.tzinfo is not None:  # as in the digest: local time, and the offset unless 0
        offset = start.utcoffset() or None
        start = start.replace(tzinfo=None)
    if isinstance(event, UsageEvent):
        payload: tuple[object, ...] = (
            "u", event.subscriber, event.account, event.usage_type, start, offset,
            str(event.quantity), event.unit, event.zone, event.region, event.slice, event.qos,
            event.device, event.rating_group, event.session)
    elif isinstance(event, FeeEvent):
        payload = ("f", event.subscriber, event.account, event.fee_type, start, offset,
                   str(event.amount), event.currency, event.description)
    elif isinstance(event, LifecycleEvent):
        payload = ("l", event.subscriber, event.account, event.action, start, offset,
                   event.offer, event.previous_offer, event.device)
    else:
        payload = ("p", event.subscriber, event.account, event.payment_type, start, offset,
                   str(event.amount), event.currency)
    return f"~{hash(payload) & 0xFFFFFFFFFFFFFFFF:x}"


def same_payload(known: str, event: Event) -> bool:
    """Whether ``event`` has the fingerprint ``known`` (a :func:`fingerprint` or a local one)."""
    if known.startswith("~"):
        return known == local_fingerprint(event)
    return known == fingerprint(event)


class Charge:
    """One charge line of a rated event: an item type with its money and units.

    ``gross`` is the rated amount (after allowances, before discount); ``discount`` is the
    positive amount taken off; ``tax`` is computed on ``gross - discount``. ``shares`` lists
    ``(payer account, net, tax)`` parts when the charge is split between payers.
    (A hand-written ``__slots__`` class: built once per rated event on the hot path.)
    """

    __slots__ = ("allowance_units", "discount", "gross", "item_type", "quantity", "shares",
                 "tax", "tax_rate")

    def __init__(self, item_type: str, gross: Decimal, quantity: Decimal = ZERO,
                 allowance_units: Decimal = ZERO, discount: Decimal = ZERO,
                 tax: Decimal = ZERO, tax_rate: Decimal = ZERO,
                 shares: list[tuple[str, Decimal, Decimal]] | None = None) -> None:
        self.item_type = item_type
        self.gross = gross
        self.quantity = quantity
        self.allowance_units = allowance_units
        self.discount = discount
        self.tax = tax
        self.tax_rate = tax_rate
        self.shares: list[tuple[str, Decimal, Decimal]] = shares if shares is not None else []

    def __repr__(self) -> str:
        return (f"Charge({self.item_type!r}, gross={self.gross}, quantity={self.quantity}, "
                f"allowance_units={self.allowance_units}, discount={self.discount}, "
                f"tax={self.tax}, shares={self.shares!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Charge):
            return NotImplemented
        return all(getattr(self, a) == getattr(other, a) for a in Charge.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @property
    def net(self) -> Decimal:
        """Gross minus discount (the tax base)."""
        return self.gross - self.discount

    @property
    def total(self) -> Decimal:
        """Net plus tax."""
        return self.gross - self.discount + self.tax


@dataclass(slots=True)
class Notification:
    """A notification produced by credit control (threshold reached, balance exhausted)."""

    account: str
    period: str
    kind: str
    threshold: Decimal
    amount: Decimal
    limit: Decimal
    event_id: str


@dataclass(slots=True)
class RatedRecord:
    """The rated result of one event (TMF635 ``Usage`` with ``ratedProductUsage``)."""

    event_id: str
    kind: str
    account: str
    subscriber: str
    period: str
    currency: str
    charges: list[Charge]
    start: datetime
    usage_type: str = ""
    quantity: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """Sum of every charge's net plus tax."""
        total = ZERO
        for c in self.charges:
            total += c.gross - c.discount + c.tax
        return total

    @property
    def net(self) -> Decimal:
        """Sum of every charge's net (gross minus discount), tax excluded."""
        total = ZERO
        for c in self.charges:
            total += c.gross - c.discount
        return total

    def to_tmf635(self) -> dict[str, Any]:
        """The TMF635 v4.0.0 ``Usage`` resource, as the official schema wants it.

        Numbers are JSON numbers held as exact :class:`~decimal.Decimal` (serialize with a
        Decimal-aware encoder: :func:`telcoflow.billing.documents.usage_to_tmf635_json`);
        date-times carry a zone (a naive start is taken as UTC); a tax rate is a fraction
        (``0.20`` for 20 %), as in the TMF678 export. Each ``ratedProductUsage`` is a
        ``TelcoflowRatedProductUsage`` (``@baseType`` ``RatedProductUsage``) adding the
        allowance units used and the payer shares, declared by the schema named in
        ``@schemaLocation`` (:data:`TMF635_USAGE_SCHEMA`).
        """
        at = _zoned(self.start)
        currency = self.currency
        rated = []
        for c in self.charges:
            net = c.gross - c.discount
            rated.append({
                "@type": "TelcoflowRatedProductUsage",
                "@baseType": "RatedProductUsage",
                "@schemaLocation": TMF635_USAGE_SCHEMA + "#/definitions/TelcoflowRatedProductUsage",
                "ratingDate": at,
                "usageRatingTag": "included" if c.gross == 0 and c.allowance_units else "usage",
                "isBilled": False,
                "ratingAmountType": c.item_type,
                "taxExcludedRatingAmount": {"value": net, "unit": currency},
                "taxIncludedRatingAmount": {"value": net + c.tax, "unit": currency},
                "taxRate": c.tax_rate,
                "isTaxExempt": c.tax_rate == 0,
                "offerTariffType": "normal" if not c.discount else "discount",
                "allowanceUnits": c.allowance_units,
                "payer": [
                    {"account": a, "taxExcludedAmount": {"value": n, "unit": currency},
                     "taxAmount": {"value": t, "unit": currency}} for a, n, t in c.shares
                ],
            })
        return {
            "id": self.event_id,
            "@type": "TelcoflowUsage",
            "@baseType": "Usage",
            "@schemaLocation": TMF635_USAGE_SCHEMA,
            "usageType": self.usage_type or self.kind,
            "usageDate": at,
            "status": "rated",
            "relatedParty": [
                {"role": "customer", "id": self.account, "@referredType": "BillingAccount"},
                {"role": "subscriber", "id": self.subscriber, "@referredType": "Subscriber"},
            ],
            "usageCharacteristic": [
                {"name": "quantity", "valueType": "number", "value": self.quantity},
                {"name": "period", "valueType": "string", "value": self.period},
            ],
            "ratedProductUsage": rated,
        }


#: ``@schemaLocation`` of :meth:`RatedRecord.to_tmf635` (the schema ships as
#: ``telcoflow/billing/documents/schemas/TelcoflowUsage.schema.json``).
TMF635_USAGE_SCHEMA = "urn:telcoflow:schema:tmf635:TelcoflowUsage:1"


def _zoned(at: datetime) -> str:
    """An RFC 3339 date-time with its zone (a naive time is taken as UTC)."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)).isoformat()


# -- the edge: pydantic, TMF635-shaped input ------------------------------------------------


class UsageCharacteristicIn(BaseModel):
    """A TMF635 ``usageCharacteristic`` entry (``name`` / ``value``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value: str | int | Decimal


class UsageEventIn(BaseModel):
    """A TMF635-shaped usage as received at the edge (HTTP, Kafka), validated once.

    ``usageCharacteristic`` carries ``quantity`` (required), ``unit``, ``zone``, ``region``,
    ``slice``, ``qos``, ``device`` and ``ratingGroup``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1)
    usage_type: Literal["data", "voice", "sms"] = Field(alias="usageType")
    usage_date: datetime = Field(alias="usageDate")
    subscriber: str = Field(min_length=1)
    account: str = Field(min_length=1)
    usage_characteristic: tuple[UsageCharacteristicIn, ...] = Field(alias="usageCharacteristic")

    def to_event(self) -> UsageEvent:
        """The internal :class:`UsageEvent` (quantity as an exact Decimal)."""
        chars = {c.name: c.value for c in self.usage_characteristic}
        if "quantity" not in chars:
            from telcoflow.errors import EventRejectedError

            raise EventRejectedError(
                f"usage {self.id}: usageCharacteristic `quantity` is required (got "
                f"{sorted(chars)})",
                reason="invalid",
                event_id=self.id,
            )
        return UsageEvent(
            id=self.id,
            subscriber=self.subscriber,
            account=self.account,
            usage_type=self.usage_type,
            start=self.usage_date,
            quantity=to_decimal(chars["quantity"], field="quantity"),
            unit=str(chars.get("unit", _DEFAULT_UNITS[self.usage_type])),
            zone=str(chars.get("zone", "home")),
            region=str(chars.get("region", "")),
            slice=str(chars.get("slice", "")),
            qos=str(chars.get("qos", "")),
            device=str(chars.get("device", "")),
            rating_group=int(chars.get("ratingGroup", 0)),
        )


_DEFAULT_UNITS = {"data": "MB", "voice": "s", "sms": "msg"}
