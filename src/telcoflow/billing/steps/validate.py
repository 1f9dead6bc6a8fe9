"""The ``validate`` and ``deduplicate`` steps, and the limits an event must respect."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.steps._shared import (
    USAGE_TYPES,
)
from telcoflow.events import (
    FEE_TYPES,
    LIFECYCLE_ACTIONS,
    PAYMENT_TYPES,
    FeeEvent,
    LifecycleEvent,
    PaymentEvent,
    UsageEvent,
    same_payload,
)
from telcoflow.ledger import (
    storable_id,
)
from telcoflow.money import shown

#: The largest quantity a usage event may carry (in any unit: 10^15 bytes is a petabyte).
MAX_QUANTITY = Decimal(10) ** 15
#: The largest amount a fee or payment may carry, in any currency.
MAX_AMOUNT = Decimal(10) ** 12
#: The most significant digits a quantity or amount may carry (more would be rounded).
MAX_DIGITS = 20
#: The longest text field (ids, names, zones...) an event may carry, in characters.
MAX_TEXT = 256

_TEXT_FIELDS: dict[type, tuple[str, ...]] = {
    UsageEvent: ("id", "subscriber", "account", "usage_type", "unit", "zone", "region", "slice",
                 "qos", "device", "session"),
    FeeEvent: ("id", "subscriber", "account", "fee_type", "currency", "description"),
    LifecycleEvent: ("id", "subscriber", "account", "action", "offer", "previous_offer",
                     "device"),
    PaymentEvent: ("id", "account", "payment_type", "currency", "subscriber"),
}


def number_problem(value: object, name: str, where: str, maximum: Decimal) -> str | None:
    """What is wrong with a quantity or amount (``where``: ``"in event e1"``), or ``None``:
    a finite Decimal of at most ``maximum`` and :data:`MAX_DIGITS` significant digits."""
    if type(value) is not Decimal or not value.is_finite():
        return f"`{name}` must be a finite Decimal (got {shown(value):.60} {where})"
    if abs(value) > maximum:
        return f"`{name}` must be at most {maximum:.0E} (got {value:.6E} {where})"
    if len(value.as_tuple().digits) > MAX_DIGITS:
        return (f"`{name}` must have at most {MAX_DIGITS} significant digits (got "
                f"{len(value.as_tuple().digits)} {where})")
    return None


class Validate:
    """Reject malformed events (reason ``invalid``), naming field, expectation and value.

    Anything that is not one of the four event types, a field of the wrong type, text that
    is not valid Unicode (lone surrogates) or longer than :data:`MAX_TEXT`, a time that is
    not a ``datetime``, a quantity or amount beyond :data:`MAX_QUANTITY` / :data:`MAX_AMOUNT`
    or with more than :data:`MAX_DIGITS` digits, a usage event without a zone: each becomes
    a dead letter with its reason; nothing raises to the caller.
    """

    __slots__ = ("usage_types",)
    name = "validate"
    needs = ("events",)
    provides = ("valid",)

    def __init__(self, usage_types: Iterable[str] = USAGE_TYPES) -> None:
        self.usage_types = frozenset(usage_types)

    def problem(self, item: Item) -> str | None:
        """What is wrong with the item's event, or ``None``."""
        e: object = item.event
        fields = _TEXT_FIELDS.get(type(e))
        if fields is None:
            return ("expected a UsageEvent, FeeEvent, LifecycleEvent or PaymentEvent (got "
                    f"{type(e).__name__})")
        raw_id = getattr(e, "id", None)
        eid = raw_id if storable_id(raw_id, MAX_TEXT) else shown(raw_id)[:80]
        for name in fields:
            value = getattr(e, name)
            if type(value) is not str:
                return (f"`{name}` must be text (got {type(value).__name__} {shown(value):.60} "
                        f"in event {eid})")
            if len(value) > MAX_TEXT:
                return (f"`{name}` must be at most {MAX_TEXT} characters (got {len(value)} "
                        f"in event {eid})")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return f"`{name}` must be valid Unicode text (got {value!r:.60} in event {eid})"
        if not raw_id:
            return "`id` must not be empty"
        if type(getattr(e, "start", None)) is not datetime:
            return (f"`start` must be a datetime (got {shown(getattr(e, 'start', None)):.60} "
                    f"in event {eid})")
        if isinstance(e, UsageEvent):
            problem = number_problem(e.quantity, "quantity", f"in event {eid}", MAX_QUANTITY)
            if problem is not None:
                return problem
            if e.quantity < 0:
                return f"`quantity` must be >= 0 (got {e.quantity} in event {eid})"
            if e.usage_type not in self.usage_types:
                return (f"`usage_type` must be one of {sorted(self.usage_types)} "
                        f"(got {e.usage_type!r} in event {eid})")
            if not e.subscriber:
                return f"`subscriber` must not be empty (event {eid})"
            if not e.zone:
                return f"`zone` must not be empty (event {eid}): say where the usage happened"
            if type(e.rating_group) is not int:
                return (f"`rating_group` must be an integer (got {shown(e.rating_group):.60} "
                        f"in event {eid})")
            return None
        if isinstance(e, FeeEvent):
            if e.fee_type not in FEE_TYPES:
                return (f"`fee_type` must be one of {sorted(FEE_TYPES)} (got {e.fee_type!r} "
                        f"in event {eid})")
            return number_problem(e.amount, "amount", f"in event {eid}", MAX_AMOUNT)
        if isinstance(e, LifecycleEvent):
            if e.action not in LIFECYCLE_ACTIONS:
                return (f"`action` must be one of {sorted(LIFECYCLE_ACTIONS)} "
                        f"(got {e.action!r} in event {eid})")
            return None
        assert isinstance(e, PaymentEvent)
        if e.payment_type not in PAYMENT_TYPES:
            return (f"`payment_type` must be one of {sorted(PAYMENT_TYPES)} "
                    f"(got {e.payment_type!r} in event {eid})")
        problem = number_problem(e.amount, "amount", f"in event {eid}", MAX_AMOUNT)
        if problem is not None:
            return problem
        if not e.amount > 0:
            return f"`amount` must be a Decimal > 0 (got {e.amount} in event {eid})"
        return None

    def __call__(self, batch: Batch) -> None:
        """Keep the valid items."""
        keep = []
        usage_types = self.usage_types
        for item in batch.items:
            e = item.event
            # fast path for the common, well-formed usage event (any odd field: slow path)
            if type(e) is UsageEvent:
                try:
                    text = (e.id + e.subscriber + e.account + e.usage_type + e.unit + e.zone
                            + e.region + e.slice + e.qos + e.device + e.session)
                except TypeError:  # a field that is not text
                    text = "\x80"  # not ASCII: the slow path says which field
                q = e.quantity
                if (text.isascii() and len(text) <= MAX_TEXT and e.id and e.subscriber
                        and e.zone and e.usage_type in usage_types
                        and type(e.start) is datetime and type(e.rating_group) is int
                        and type(q) is Decimal and q.is_finite() and q >= 0
                        and q <= MAX_QUANTITY and len(str(q)) <= MAX_DIGITS):
                    keep.append(item)
                    continue
            problem = self.problem(item)
            if problem is None:
                keep.append(item)
            else:
                batch.reject(item, "invalid", problem)
        batch.items = keep


class Deduplicate:
    """Same id and payload again: a no-op; same id, other payload: rejected (``conflict``).

    Claims are read in one batch query; while rerating, claimed ids go through. Payload
    fingerprints are computed only when an id is seen again (a claim exists, or an earlier
    item of the batch has it).
    """

    __slots__ = ()
    name = "deduplicate"
    needs = ("valid",)
    provides = ("unique",)

    def __call__(self, batch: Batch) -> None:
        """Keep the items seen for the first time."""
        items = batch.items
        claims = batch.tx.claims([i.event.id for i in items])
        seen: dict[str, Item] = {}
        keep = []
        rerate = batch.rerate
        for item in items:
            eid = item.event.id
            if eid not in seen and (not claims or eid not in claims):
                seen[eid] = item  # the common case: a new id (no fingerprint needed)
                keep.append(item)
                continue
            first = seen.get(eid)
            if first is not None:
                earlier = first.fingerprint
                same = earlier == item.fingerprint
            else:
                earlier = claims[eid].fingerprint
                same = same_payload(earlier, item.event)
                if rerate and same:  # rerating: the same event again
                    seen[eid] = item
                    keep.append(item)
                    continue
            fp = item.fingerprint
            if same:
                batch.duplicates += 1
            else:
                batch.reject(item, "conflict",
                             f"event {eid} was already accepted with another payload "
                             f"(fingerprint {earlier}, got {fp})")
        batch.items = keep
