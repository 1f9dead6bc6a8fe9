"""The 5G packs in the real-time graph: passes, add-ons, partner benefits and devices post
their charges as their lifecycle events arrive, from the catalog and the packs alone.

:class:`PackCharges` wraps the graph's ``rate`` step (same name, needs and provides); after
it, each :class:`~telcoflow.events.LifecycleEvent` of the kinds below gets its charges, which
the following steps post to the ledger, tax, split, pay from a balance and emit like any
other:

- ``add_offer`` (a slice pass bought, an add-on taken): the offering's one-time prices
  (trigger ``purchase`` or ``activation``) in full as a ``one_time`` charge, its flat monthly
  recurring prices prorated by day for the rest of the cycle as a ``recurring`` charge;
  ``remove_offer`` credits the recurring part of the days left;
- ``add_device`` / ``remove_device`` on a plan priced per device (``per: device``): the
  device-count pack's charge of the device's rank (the plan's device count is the counter
  ``dev|<subscriber>``), for the days left in the cycle, as a ``device`` charge (a removal
  credits the last rank);
- every benefit of an offering added, removed, activated, changed to or from, or
  terminated: the partner-benefits pack's three lines (customer price, partner cost, revenue
  share) for the days left, summed per partner and period in counters
  (``ptn|<partner>|<period>|<what>``) that :func:`partner_report_of` reads back as a
  :class:`~telcoflow.offers.partners.PartnerReport`.

Counter moves are effects of the event's claim: replays change nothing, rerating reverses
and reposts them. :func:`with_5g_packs` installs the step in a graph builder.

A stadium pass bought on 27 November posts its 5.00 fee; StreamFlix taken on 16 November
(10.00 a month, bill cycle day 1) posts 10.00 x 15/30 = 5.00 and tells the partner report
5.00 customer, 3.50 partner cost, 1.50 revenue share.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.graph import GraphBuilder, Step
from telcoflow.billing.profiles import SubscriberProfile
from telcoflow.billing.recurring import prorate
from telcoflow.catalog import Catalog, OneTimePrice, ProductOffering, RecurringPrice
from telcoflow.errors import RatingError
from telcoflow.events import Charge, LifecycleEvent
from telcoflow.money import Money
from telcoflow.offers import _lookup
from telcoflow.offers.devices import device_charge, device_prices
from telcoflow.offers.partners import (
    BenefitHolding,
    PartnerReport,
    PartnerTotals,
    benefit_lines,
)
from telcoflow.rating.proration import cycle_bounds
from telcoflow.rules.pack import RulePack, load_pack
from telcoflow.shipped import shipped_path
from telcoflow.stores.base import LedgerStore

__all__ = [
    "PackCharges",
    "device_count_key",
    "partner_key",
    "partner_report_of",
    "with_5g_packs",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
#: the partner counters of one period: customer price, partner cost, revenue share, lines
_PARTNER_PARTS = ("customer", "cost", "share", "lines")
_HANDLED = frozenset({"add_offer", "remove_offer", "add_device", "remove_device", "activate",
                      "change_offer", "terminate"})


def partner_key(partner: str, period: str, part: str) -> str:
    """The counter of one partner's ``part`` (customer, cost, share, lines) in ``period``."""
    return f"ptn|{partner}|{period}|{part}"


def device_count_key(subscriber: str) -> str:
    """The counter of the devices on a subscriber's per-device plan."""
    return f"dev|{subscriber}"


class PackCharges:
    """A ``rate`` step plus the 5G packs' charges of lifecycle events (see the module).

    ``benefits`` is the partner-benefits pack, ``devices`` the device-count pack. A pack or
    catalog problem for one event (an unknown offering, more devices than the plan allows,
    removing a device the plan does not have) rejects that event (``unrateable``) before
    any of its effects is posted.
    """

    __slots__ = ("benefits", "catalog", "devices", "inner", "name", "needs", "provides")

    def __init__(self, inner: Step, catalog: Catalog, *, benefits: RulePack,
                 devices: RulePack) -> None:
        self.inner = inner
        self.name = inner.name
        self.needs = inner.needs
        self.provides = inner.provides
        self.catalog = catalog
        self.benefits = benefits
        self.devices = devices

    def __call__(self, batch: Batch) -> None:
        """Rate with the wrapped step, then charge the 5G packs' lifecycle events."""
        self.inner(batch)
        if not any(type(i.event) is LifecycleEvent for i in batch.items):
            return
        keep = []
        for item in batch.items:
            e = item.event
            if type(e) is LifecycleEvent and e.action in _HANDLED:
                try:
                    self._lifecycle(batch, item, e)
                except RatingError as exc:
                    batch.reject(item, "unrateable", str(exc))
                    continue
            keep.append(item)
        batch.items = keep

    # -- one event ------------------------------------------------------------------------
    def _lifecycle(self, batch: Batch, item: Item, e: LifecycleEvent) -> None:
        sub = item.subscriber
        assert sub is not None
        day = e.start.date()
        currency = sub.account.currency
        if currency != self.catalog.default_currency.code:
            raise RatingError(f"event {e.id}: account {sub.account.id} bills in {currency}, "
                              f"the catalog prices in {self.catalog.default_currency.code}")
        # (offering, +1 / -1) whose benefits start or stop on ``day``
        benefits: list[tuple[str, int]] = []
        charges: list[Charge] | None = None
        counter: tuple[str, Decimal] | None = None
        action = e.action
        if action in ("add_offer", "remove_offer"):
            offering = self._offering(e.offer, day, e.id)
            charges = self._offer_charges(offering, sub, day, action == "add_offer")
            benefits.append((e.offer, 1 if action == "add_offer" else -1))
        elif action in ("add_device", "remove_device"):
            found = self._device_charge(batch, sub, e, day)
            if found is not None:
                charge, delta = found
                charges = [charge]
                counter = (device_count_key(sub.id), delta)
        elif action == "activate":
            benefits.append((e.offer or sub.offer, 1))
        elif action == "change_offer":
            benefits += [(e.previous_offer or sub.offer, -1), (e.offer, 1)]
        else:  # terminate
            benefits.append((e.previous_offer or e.offer or sub.offer, -1))
        lines = self._partner_lines(sub, benefits, day, e.id)
        # every check passed: post
        if charges is not None:
            item.charges = [*(c for c in item.charges if c.item_type != "device"), *charges] \
                if action in ("add_device", "remove_device") else [*item.charges, *charges]
        tx = batch.tx
        if counter is not None:
            tx.add(item.effects, *counter)
        for partner, parts in lines.items():
            for part, value in zip(_PARTNER_PARTS, parts, strict=True):
                if value:
                    tx.add(item.effects, partner_key(partner, item.post_period, part), value)

    def _offering(self, offering_id: str, day: date, event_id: str) -> ProductOffering:
        if not offering_id:
            raise RatingError(f"event {event_id}: `offer` must name a catalog offering")
        return _lookup.offering(self.catalog, offering_id, day, needed_by=f"event {event_id}")

    def _offer_charges(self, offering: ProductOffering, sub: SubscriberProfile, day: date,
                       added: bool) -> list[Charge]:
        """One-time prices (on purchase) and flat monthly fees prorated for the days left."""
        account = sub.account
        once = recurring = _ZERO
        for price in offering.prices:
            if isinstance(price, OneTimePrice) and added and price.trigger in (
                    "purchase", "activation"):
                once += price.amount
            elif (isinstance(price, RecurringPrice) and price.amount is not None
                  and price.per is None and price.period == "month"):
                part = (prorate(price.amount, day, account.bill_cycle_day,
                                currency=account.currency) if price.prorate else price.amount)
                recurring += part if added else -part
        charges = []
        if once:
            charges.append(Charge("one_time", once, _ONE))
        if recurring:
            charges.append(Charge("recurring", recurring, _ONE if added else -_ONE))
        return charges

    def _device_charge(self, batch: Batch, sub: SubscriberProfile, e: LifecycleEvent,
                       day: date) -> tuple[Charge, Decimal] | None:
        """The device's charge and the device-count move (``None``: not a per-device plan)."""
        plan = e.offer or sub.offer
        offering = self._offering(plan, day, e.id)
        if not any(isinstance(p, RecurringPrice) and p.per == "device" for p in offering.prices):
            return None
        included, marginal = device_prices(self.catalog, plan)
        held = int(batch.tx.counter(device_count_key(sub.id)))
        added = e.action == "add_device"
        rank = held + 1 if added else held
        if added and rank > len(marginal):
            raise RatingError(f"event {e.id}: offering {plan!r} allows {len(marginal)} devices; "
                              f"subscriber {sub.id!r} already has {held}")
        if not added and held < 1:
            raise RatingError(f"event {e.id}: subscriber {sub.id!r} has no device on "
                              f"{plan!r} to remove")
        start, end = cycle_bounds(day, sub.account.bill_cycle_day)
        cur = self.catalog.default_currency
        charge = device_charge(self.devices, plan, included, e.device or f"device-{rank}",
                               True, rank, (end - day).days + 1, (end - start).days + 1,
                               Money(marginal[rank - 1], cur))
        amount = charge.amount.amount
        return (Charge("device", amount if added else -amount, _ONE if added else -_ONE),
                _ONE if added else -_ONE)

    def _partner_lines(self, sub: SubscriberProfile, offerings: Iterable[tuple[str, int]],
                       day: date, event_id: str) -> dict[str, list[Decimal]]:
        """Per partner: customer, cost, share and line count of the benefits that start
        (+1) or stop (-1) on ``day``, for the days left in the cycle."""
        out: dict[str, list[Decimal]] = {}
        bcd = sub.account.bill_cycle_day
        start, _ = cycle_bounds(day, bcd)
        for offering_id, sign in offerings:
            if not offering_id or not self._offering(offering_id, day, event_id).benefits:
                continue
            for line in benefit_lines(self.benefits, self.catalog,
                                      [BenefitHolding(sub.id, offering_id, day)],
                                      cycle_start=start, cycle_day=bcd):
                sums = out.setdefault(line.partner, [_ZERO] * 4)
                for i, value in enumerate((line.customer.amount, line.partner_cost.amount,
                                           line.revenue_share.amount, _ONE)):
                    sums[i] += value if sign > 0 else -value
        return out


def with_5g_packs(builder: GraphBuilder, catalog: Catalog, *,
                  benefits: RulePack | str | Path | None = None,
                  devices: RulePack | str | Path | None = None) -> GraphBuilder:
    """Wrap ``builder``'s ``rate`` step in :class:`PackCharges` (returns the builder).

    The packs default to the shipped ``rules/5g/partner-benefits.rules.yaml`` and
    ``rules/5g/device-count.rules.yaml``; pass a pack or a path to use others.
    """
    rate = builder.copy().build().step("rate")
    return builder.replace("rate", PackCharges(
        rate, catalog,
        benefits=_pack(benefits, "rules/5g/partner-benefits.rules.yaml"),
        devices=_pack(devices, "rules/5g/device-count.rules.yaml")))


def _pack(given: RulePack | str | Path | None, shipped: str) -> RulePack:
    if isinstance(given, RulePack):
        return given
    return load_pack(given if given is not None else shipped_path(shipped))


def partner_report_of(store: LedgerStore, catalog: Catalog, period: str) -> PartnerReport:
    """The partner report of ``period`` from what the graph posted (partners in the
    catalog, those with lines only, sorted by id)."""
    cur = catalog.default_currency
    keys = [partner_key(p.id, period, part) for p in catalog.partners for part in _PARTNER_PARTS]
    found = store.get_counters(keys)
    partners = []
    for p in sorted(catalog.partners, key=lambda p: p.id):
        customer, cost, share, lines = (found.get(partner_key(p.id, period, part), _ZERO)
                                        for part in _PARTNER_PARTS)
        if lines or customer or cost or share:
            partners.append(PartnerTotals(p.id, p.name or p.id, Money(customer, cur),
                                          Money(cost, cur), Money(share, cur), int(lines)))
    total = PartnerTotals("total", "all partners",
                          Money.sum((p.customer for p in partners), cur),
                          Money.sum((p.partner_cost for p in partners), cur),
                          Money.sum((p.revenue_share for p in partners), cur),
                          sum(p.lines for p in partners))
    return PartnerReport(tuple(partners), total)
