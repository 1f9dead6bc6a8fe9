"""Device-count charging: a home or family plan includes N 5G devices; each further 5G device
pays a monthly price, prorated by day when added or removed mid-cycle.

The plan's per-device recurring price in the catalog (``per: device`` with a price model)
gives N (the leading ranks that cost nothing) and the monthly price of each further rank
(the price model's marginal price: ``price(rank) - price(rank - 1)``). The device-count pack
(``rules/5g/device-count.rules.yaml``) decides each device's charge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from telcoflow.catalog import Catalog, RecurringPrice
from telcoflow.errors import RatingError
from telcoflow.money import Money, to_decimal
from telcoflow.offers import _lookup
from telcoflow.periods import ONE_DAY, cycle_bounds
from telcoflow.rating.price_models import compile_price
from telcoflow.rules.pack import RulePack

__all__ = ["Device", "DeviceBill", "DeviceCharge", "device_charge", "device_charges",
           "device_prices"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Device:
    """A device on a plan, active from ``active_from`` to ``active_to`` (inclusive; None:
    still active)."""

    id: str
    five_g: bool
    active_from: date
    active_to: date | None = None


@dataclass(frozen=True, slots=True)
class DeviceCharge:
    """One device's charge for the cycle and why."""

    device: str
    rank: int
    days_held: int
    monthly_price: Money
    amount: Money
    charged: bool
    reason: str


@dataclass(frozen=True, slots=True)
class DeviceBill:
    """Every device's charge for one cycle of one plan."""

    offering: str
    cycle_start: date
    cycle_end: date
    included_devices: int
    charges: tuple[DeviceCharge, ...]
    total: Money


def device_prices(catalog: Catalog, offering_id: str, *, price_id: str | None = None,
                  max_rank: int = 20) -> tuple[int, list[Decimal]]:
    """``(included devices, monthly price of ranks 1..max_rank)`` from the offering's
    per-device recurring price."""
    offering = _lookup.offering(catalog, offering_id, needed_by="device prices")
    prices = [p for p in offering.prices if isinstance(p, RecurringPrice) and p.per == "device"
              and (price_id is None or p.id == price_id)]
    if not prices or prices[0].price is None:
        raise RatingError(f"offering {offering_id!r} has no recurring price per device")
    fn = compile_price(prices[0].price)
    limit = offering.max_devices or max_rank
    marginal = [fn(Decimal(r)) - fn(Decimal(r - 1)) for r in range(1, limit + 1)]
    included = 0
    for price in marginal:
        if price != 0:
            break
        included += 1
    return included, marginal


def device_charge(pack: RulePack, offering_id: str, included: int, device_id: str,
                  five_g: bool, rank: int, days_held: int, cycle_days: int,
                  monthly_price: Money) -> DeviceCharge:
    """The pack's charge of one device of rank ``rank`` (0: not counted) held ``days_held``
    days of a ``cycle_days``-day cycle, whose rank costs ``monthly_price`` a month."""
    ctx = {"plan": {"id": offering_id, "included_devices": included,
                    "device_price": monthly_price.amount},
           "device": {"id": device_id, "five_g": five_g, "rank": rank, "days_held": days_held},
           "cycle": {"days": cycle_days}}
    out = pack.decide("device_charge", ctx)
    if not isinstance(out, Mapping):
        raise RatingError(f"pack {pack.name!r} gave no charge for device {device_id!r}")
    return DeviceCharge(device_id, rank, days_held, monthly_price,
                        Money(to_decimal(out["amount"], field="amount"), monthly_price.currency),
                        bool(out.get("charged", False)), str(out.get("reason", "")))


def device_charges(pack: RulePack, catalog: Catalog, offering_id: str,
                   devices: Iterable[Device], *, cycle_start: date,
                   cycle_day: int | None = None) -> DeviceBill:
    """Charge every device of a plan for the bill cycle starting on ``cycle_start``.

    5G devices active in the cycle are ranked by activation date (then id); the first N are
    included. Days held are counted inside the cycle, both ends included. More 5G devices
    than the offering's ``max_devices`` raise :class:`~telcoflow.errors.RatingError`.
    """
    start, end = cycle_bounds(cycle_start, cycle_day or cycle_start.day)
    end -= ONE_DAY  # the cycle's last day
    cycle_days = (end - start).days + 1
    included, marginal = device_prices(catalog, offering_id)
    cur = catalog.default_currency
    active = [d for d in devices if d.active_from <= end and (d.active_to or end) >= start]
    five_g = sorted((d for d in active if d.five_g), key=lambda d: (d.active_from, d.id))
    if len(five_g) > len(marginal):
        raise RatingError(f"offering {offering_id!r} allows {len(marginal)} devices, the plan "
                          f"has {len(five_g)} 5G devices in the cycle {start}..{end}")
    ranks = {d.id: n for n, d in enumerate(five_g, 1)}
    charges = []
    for d in sorted(active, key=lambda d: (ranks.get(d.id, 10**6), d.id)):
        first, last = max(d.active_from, start), min(d.active_to or end, end)
        days = (last - first).days + 1
        rank = ranks.get(d.id, 0)
        price = marginal[rank - 1] if rank else _ZERO
        charges.append(device_charge(pack, offering_id, included, d.id, d.five_g, rank, days,
                                     cycle_days, Money(price, cur)))
    total = Money.sum((c.amount for c in charges), cur)
    return DeviceBill(offering_id, start, end, included, tuple(charges), total)
