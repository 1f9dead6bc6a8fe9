"""Slice passes: rate a subscriber's usage around a pass (a price per time window in a region
on a QoS class, usage inside it free up to a volume, normal tariff outside).

The slice-pass pack (``rules/5g/slice-pass.rules.yaml``) decides per event how many MB the
pass covers and how many go to the normal tariff; :class:`SlicePassRater` keeps the volume
used, adds the pass fee and prices the normal-tariff MB with the catalog's tariff (rated
together, so a graduated tariff sees the whole volume).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from telcoflow.catalog import Catalog, OneTimePrice
from telcoflow.errors import RatingError
from telcoflow.money import Money, to_decimal
from telcoflow.offers import _lookup
from telcoflow.rating.price_models import CompiledTariff, compile_tariffs, unit_factor
from telcoflow.rules.functions import to_datetime
from telcoflow.rules.pack import RulePack

__all__ = ["PassUsage", "HeldSlicePass", "SlicePassBill", "SlicePassRater", "decide_usage"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class HeldSlicePass:
    """A pass held by a subscriber: ``[start, end)`` in ``regions`` on ``qos_class``."""

    id: str
    subscriber: str
    offering: str
    start: datetime
    end: datetime
    regions: tuple[str, ...]
    qos_class: str
    included_mb: Decimal
    price: Money

    @classmethod
    def from_catalog(cls, catalog: Catalog, offering_id: str, *, subscriber: str,
                     start: object, pass_id: str | None = None) -> HeldSlicePass:
        """The pass ``offering_id`` bought at ``start``: window from the offering's
        ``slice_pass.duration_hours``, volume from its slice allowance, price from its
        one-time prices."""
        offering = _lookup.offering(catalog, offering_id, needed_by=f"slice pass of {subscriber!r}")
        sp = offering.slice_pass
        if sp is None:
            raise RatingError(f"offering {offering_id!r} is not a slice pass (no `slice_pass`)")
        included = _ZERO
        for alw_id in offering.allowances:
            alw = catalog.allowance(alw_id)
            if alw.service in ("slice", "data"):
                # unit_factor("MB", "GB") is 1000: MB per GB
                included += to_decimal(alw.quantity) * unit_factor("MB", alw.unit)
        fee = sum((p.amount for p in offering.prices if isinstance(p, OneTimePrice)), _ZERO)
        begin = to_datetime(start)
        return cls(pass_id or f"{offering_id}:{subscriber}:{begin.isoformat()}", subscriber,
                   offering_id, begin, begin + timedelta(hours=sp.duration_hours),
                   tuple(sp.regions or offering.regions), sp.slice_class, included,
                   Money(fee, catalog.default_currency))


@dataclass(frozen=True, slots=True)
class PassUsage:
    """What the pack decided for one usage event."""

    event_id: str
    volume_mb: Decimal
    free_mb: Decimal
    billed_mb: Decimal
    tariff: str | None
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class SlicePassBill:
    """The pass fee, the usage at the normal tariff, and the events' decisions."""

    slice_pass: HeldSlicePass
    fee: Money
    free_mb: Decimal
    billed_mb: dict[str, Decimal]
    usage_amount: Money
    events: tuple[PassUsage, ...]

    @property
    def total(self) -> Money:
        """Fee plus usage at the normal tariff."""
        return self.fee + self.usage_amount


def decide_usage(pack: RulePack, slice_pass: HeldSlicePass, event: Mapping[str, Any],
                 used_mb: Decimal, *, default_id: str = "") -> PassUsage:
    """The slice-pass pack's decision for one usage ``event`` (``time``, ``region``,
    ``volume_mb``, optional ``qos_class`` and ``id``) when ``used_mb`` of the pass is gone."""
    sp = {"id": slice_pass.id, "start": slice_pass.start, "end": slice_pass.end,
          "regions": list(slice_pass.regions), "qos_class": slice_pass.qos_class,
          "included_mb": slice_pass.included_mb, "used_mb": used_mb}
    event_id = str(event.get("id", default_id))
    trace = pack.decision("usage").explain(pack.context_for({"event": event, "slice_pass": sp}))
    out = trace.value
    if not isinstance(out, Mapping):
        raise RatingError(f"pack {pack.name!r}: decision `usage` gave nothing for event "
                          f"{event_id!r}")
    free = to_decimal(out["free_mb"], field="free_mb")
    bill = to_decimal(out["billed_mb"], field="billed_mb")
    tariff = out.get("tariff")
    rule = trace.matches[0].rule if trace.matches else "(default)"
    return PassUsage(event_id, to_decimal(event["volume_mb"], field="volume_mb"), free, bill,
                     None if tariff is None else str(tariff), rule,
                     str(out.get("reason", "")))


class SlicePassRater:
    """Rates usage around a slice pass with the slice-pass pack and the catalog's tariffs."""

    def __init__(self, pack: RulePack, catalog: Catalog) -> None:
        self.pack = pack
        self.catalog = catalog
        self.tariffs: dict[str, CompiledTariff] = compile_tariffs(catalog)

    def rate(self, slice_pass: HeldSlicePass, events: Iterable[Mapping[str, Any]], *,
             zone: str = "home") -> SlicePassBill:
        """Rate the subscriber's usage ``events`` (each ``time``, ``region``, ``volume_mb``,
        optional ``qos_class`` and ``id``), in time order, around ``slice_pass``."""
        ordered = sorted(events, key=lambda e: to_datetime(e["time"]))
        used = _ZERO
        billed: dict[str, Decimal] = {}
        decided: list[PassUsage] = []
        for n, ev in enumerate(ordered):
            usage = decide_usage(self.pack, slice_pass, ev, used, default_id=str(n + 1))
            used += usage.free_mb
            if usage.billed_mb > 0:
                if usage.tariff not in self.tariffs:
                    raise RatingError(f"pack {self.pack.name!r}: tariff {usage.tariff!r} for "
                                      f"event {usage.event_id!r} is not in the catalog")
                billed[usage.tariff] = billed.get(usage.tariff, _ZERO) + usage.billed_mb
            decided.append(usage)
        cur = slice_pass.price.currency
        amount = Money.zero(cur)
        for tariff_id, mb in sorted(billed.items()):
            amount = amount + self.tariffs[tariff_id].rate(mb, zone=zone).amount
        return SlicePassBill(slice_pass, slice_pass.price, used, billed, amount, tuple(decided))
