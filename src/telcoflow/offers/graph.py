"""The 5G packs in the real-time graph: passes, add-ons, partner benefits and devices post
their charges as their lifecycle events arrive, from the catalog and the packs alone.

:class:`PackCharges` wraps the graph's ``rate`` step (same name, needs and provides); after
it, each event of the kinds below gets its charges, which
the following steps post to the ledger, tax, split, pay from a balance and emit like any
other:

- ``add_offer`` (a slice pass bought, an add-on taken): the offering's one-time prices
  (trigger ``purchase`` or ``activation``) in full as a ``one_time`` charge, each of its flat
  monthly recurring prices prorated by day for the rest of the cycle as a charge of its own
  (item type ``recurring:<offering>/<price>``, :func:`~telcoflow.events.price_item_type`:
  its own ledger line, so its own bill line, tax category and discounts);
  ``remove_offer`` credits the recurring part of the days left. An add-on with a monthly
  price is *held* (the counter ``held|<subscriber>|<offering>``: taking it twice, or dropping
  one not held, is rejected); a pass or a one-off day is not;
- a cycle's recurring fee event (``rc|<subscriber>|<period>``, from
  :meth:`~telcoflow.billing.recurring.RecurringFees.cycle_fees`, posted at the cycle start)
  renews the packs for the whole cycle: the devices beyond those included, the add-ons
  held, their benefits, and the plan's fees limited to a number of ``cycles`` (a phone's
  instalments, each its own ``recurring:<plan>/<price>`` line while cycles are left: the
  counter ``inst|<subscriber>|<plan>|<price>`` counts those charged; an ``activate`` of
  the plan charges the first, from its day, prorated when the price says so);
- ``add_device`` / ``remove_device`` on a plan priced per device (``per: device``): the
  device-count pack's charge of the device's rank (the plan's device count is the counter
  ``dev|<subscriber>``), for the days left in the cycle, as a ``device`` charge (a removal
  credits the last rank; every device added by an event counts as a 5G device);
- data usage inside a slice pass the subscriber bought (``add_offer`` of an offering with a
  ``slice_pass``: the window starts with the event): the slice-pass pack decides how many MB
  the pass carries (its volume used is the counter ``pass|<subscriber>|<offering>|used``);
  the wrapped ``rate`` step rates only the rest, at the subscriber's normal tariff, and the
  charge shows the carried MB as allowance units;
- every benefit of an offering added, removed, activated, changed to or from, or
  terminated: the partner-benefits pack's three lines (customer price, partner cost, revenue
  share) for the days left (the day itself for a one-off purchase), summed per partner and
  period in counters (``ptn|<partner>|<period>|<part>``) that :func:`partner_report_of`
  reads back as a :class:`~telcoflow.offers.partners.PartnerReport`.

Prices come from the catalog and decisions from the packs; this module only routes events
to them. The ``device`` charges replace any the wrapped step made for a plan priced per
device.

Counter moves are effects of the event's claim: replays change nothing, rerating reverses
and reposts them. :func:`with_5g_packs` installs the step in a graph builder.

A stadium pass bought on 27 November at 18:00 posts its 5.00 fee and carries 5,000 MB of
the data used in the north stadium until 21:00; StreamFlix taken on 16 November
(10.00 a month, bill cycle day 1) posts 10.00 x 15/30 = 5.00 and tells the partner report
5.00 customer, 3.50 partner cost, 1.50 revenue share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from telcoflow.accounts import SubscriberProfile
from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.graph import GraphBuilder, Step
from telcoflow.billing.recurring import prorate
from telcoflow.billing.transaction import LedgerTransaction
from telcoflow.catalog import Catalog, OneTimePrice, ProductOffering, RecurringPrice
from telcoflow.errors import RatingError
from telcoflow.events import Charge, FeeEvent, LifecycleEvent, UsageEvent, price_item_type
from telcoflow.ledger import LedgerStore
from telcoflow.money import Money
from telcoflow.offers import _lookup
from telcoflow.offers.devices import device_charge, device_prices
from telcoflow.offers.partners import (
    BenefitHolding,
    PartnerReport,
    PartnerTotals,
    benefit_lines,
)
from telcoflow.offers.slicepass import HeldSlicePass, decide_usage
from telcoflow.periods import ONE_DAY, cycle_bounds
from telcoflow.rules.pack import RulePack, load_pack
from telcoflow.shipped import shipped_path

__all__ = [
    "PackCharges",
    "device_count_key",
    "held_add_ons",
    "holding_key",
    "instalment_key",
    "partner_key",
    "pass_key",
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


def pass_key(subscriber: str, offering: str, part: str) -> str:
    """The counter of a subscriber's slice pass: ``from`` (its start, seconds since 1970 in
    UTC) or ``used`` (MB carried)."""
    return f"pass|{subscriber}|{offering}|{part}"


_EPOCH = datetime(1970, 1, 1)


def _seconds(at: datetime) -> Decimal:
    """``at`` as whole seconds since 1970 (UTC when it carries a zone)."""
    return Decimal(int((_naive_utc(at) - _EPOCH).total_seconds()))


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo is not None else at


def holding_key(subscriber: str, offering: str) -> str:
    """The counter saying whether a subscriber holds an add-on (1) or not (0)."""
    return f"held|{subscriber}|{offering}"


def _monthly_prices(offering: ProductOffering) -> list[RecurringPrice]:
    """The offering's flat monthly recurring prices (each posted on its own ledger line,
    :func:`~telcoflow.events.price_item_type`)."""
    return [p for p in offering.prices
            if isinstance(p, RecurringPrice) and p.amount is not None and p.per is None
            and p.period == "month"]


def _monthly(offering: ProductOffering) -> Decimal:
    """The offering's flat monthly recurring prices, summed (0: nothing renews monthly)."""
    return sum((p.amount for p in _monthly_prices(offering) if p.amount is not None), _ZERO)


def _renews(offering: ProductOffering) -> bool:
    """An add-on held from cycle to cycle (a monthly price, not a pass)."""
    return offering.slice_pass is None and _monthly(offering) > 0


def _renewable(catalog: Catalog) -> tuple[str, ...]:
    """The add-ons held from cycle to cycle (any version renews monthly), sorted."""
    return tuple(sorted(offering_id for offering_id, versions in catalog.offering_versions.items()
                        if any(_renews(v) for v in versions)))


def instalment_key(subscriber: str, offering: str, price: str) -> str:
    """The counter of the cycles a subscriber has been charged a plan's fee limited to a
    number of cycles (``cycles``: a phone's instalments)."""
    return f"inst|{subscriber}|{offering}|{price}"


def device_count_key(subscriber: str) -> str:
    """The counter of the devices on a subscriber's per-device plan."""
    return f"dev|{subscriber}"


class PackCharges:
    """A ``rate`` step plus the 5G packs' charges of lifecycle events (see the module).

    ``benefits`` is the partner-benefits pack, ``devices`` the device-count pack,
    ``passes`` the slice-pass pack. A pack or catalog problem for one event (an add-on that
    is not in the catalog, more devices than the plan allows, removing a device the plan
    does not have, an account billing in another currency than the catalog's) rejects that
    event (``unrateable``) before any of its effects is posted. Events about offerings the
    catalog does not know (a host's own plans) are left as the wrapped step rated them.
    """

    __slots__ = ("_pass_regions", "_renewable", "_slice_passes", "benefits", "catalog",
                 "devices", "inner", "name", "needs", "passes", "provides")

    def __init__(self, inner: Step, catalog: Catalog, *, benefits: RulePack,
                 devices: RulePack, passes: RulePack) -> None:
        self.inner = inner
        self.name = inner.name
        self.needs = inner.needs
        self.provides = inner.provides
        self.catalog = catalog
        self.benefits = benefits
        self.devices = devices
        self.passes = passes
        #: region -> the pass offerings usable there (any version)
        self._pass_regions: dict[str, tuple[str, ...]] = {}
        for offering_id, versions in catalog.offering_versions.items():
            for version in versions:
                if version.slice_pass is not None:
                    for region in version.slice_pass.regions or version.regions:
                        found = self._pass_regions.get(region, ())
                        if offering_id not in found:
                            self._pass_regions[region] = (*found, offering_id)
        self._slice_passes: dict[tuple[str, str, Decimal], HeldSlicePass] = {}
        #: add-ons held from cycle to cycle (any version renews monthly)
        self._renewable = _renewable(catalog)

    def __call__(self, batch: Batch) -> None:
        """Carry usage inside slice passes, rate the rest with the wrapped step, then charge
        the 5G packs' lifecycle events."""
        moved: list[tuple[Item, str, Decimal]] = []
        carried = self._carry(batch, moved) if self._pass_regions else None
        try:
            self.inner(batch)
        finally:
            if carried:
                self._carried(batch, carried)
        if moved:  # pass windows of events rejected since: undone
            kept = {id(item) for item in batch.items}
            for item, key, delta in moved:
                if id(item) not in kept:
                    batch.tx.add(None, key, -delta)
        if not any(type(i.event) is LifecycleEvent or type(i.event) is FeeEvent
                   for i in batch.items):
            return
        keep = []
        for item in batch.items:
            e = item.event
            if ((type(e) is LifecycleEvent and e.action in _HANDLED)
                    or (type(e) is FeeEvent and e.fee_type == "recurring"
                        and e.id.startswith("rc|") and item.subscriber is not None)):
                try:
                    self._lifecycle(batch, item, e)
                except RatingError as exc:
                    batch.reject(item, "unrateable", str(exc))
                    continue
            keep.append(item)
        batch.items = keep

    # -- usage inside slice passes ---------------------------------------------------------
    def _carry(self, batch: Batch, moved: list[tuple[Item, str, Decimal]],
               ) -> list[tuple[Item, UsageEvent, str, Decimal]]:
        """Hand the rate step only what no pass carries: ``(item, its event, pass counter,
        MB carried)`` of each usage event a pass covers (the counter moves at once, so the
        next event of the batch sees it). Pass purchases open their window here, in the
        batch's order (``moved`` gets their counter moves)."""
        out: list[tuple[Item, UsageEvent, str, Decimal]] = []
        regions = self._pass_regions
        for item in batch.items:
            e = item.event
            if type(e) is LifecycleEvent:
                if e.action in ("add_offer", "remove_offer") and item.subscriber is not None:
                    self._window(batch, item, e, item.subscriber.id, moved)
                continue
            if (type(e) is not UsageEvent or e.usage_type != "data" or e.unit != "MB"
                    or e.region not in regions or item.subscriber is None or not e.quantity):
                continue
            found = self._covered(batch, item.subscriber.id, e, regions[e.region])
            if found is None:
                continue
            key, free = found
            _ = item.fingerprint  # the payload digest of the event as it came
            batch.tx.add(item.effects, key, free)
            item.event = replace(e, quantity=e.quantity - free)
            out.append((item, e, key, free))
        return out

    def _window(self, batch: Batch, item: Item, e: LifecycleEvent, subscriber: str,
                moved: list[tuple[Item, str, Decimal]]) -> None:
        """A pass bought opens its window at the event's time (its volume starts unused);
        a pass dropped closes it."""
        try:
            offering = self.catalog.offering(e.offer, on=e.start.date())
        except KeyError:  # the lifecycle step below rejects it, saying why
            return
        if offering.slice_pass is None:
            return
        tx = batch.tx
        start, used = pass_key(subscriber, e.offer, "from"), pass_key(subscriber, e.offer, "used")
        begin = _seconds(e.start) if e.action == "add_offer" else _ZERO
        for key, delta in ((start, begin - tx.counter(start)), (used, -tx.counter(used))):
            if delta:
                tx.add(item.effects, key, delta)
                moved.append((item, key, delta))

    def _covered(self, batch: Batch, subscriber: str, e: UsageEvent,
                 offerings: tuple[str, ...]) -> tuple[str, Decimal] | None:
        """``(pass counter, MB carried)`` of the first pass carrying part of ``e``."""
        tx = batch.tx
        when = _naive_utc(e.start)
        for offering_id in offerings:
            start = tx.counter(pass_key(subscriber, offering_id, "from"))
            if not start:
                continue
            sp = self._slice_pass(offering_id, subscriber, start)
            if not sp.start <= when < sp.end:
                continue
            key = pass_key(subscriber, offering_id, "used")
            event = {"id": e.id, "time": when, "region": e.region, "volume_mb": e.quantity}
            if e.slice:
                event["qos_class"] = e.slice
            usage = decide_usage(self.passes, sp, event, tx.counter(key))
            if usage.free_mb > 0:
                return key, min(usage.free_mb, e.quantity)
        return None

    def _slice_pass(self, offering_id: str, subscriber: str, start: Decimal) -> HeldSlicePass:
        found = self._slice_passes.get((offering_id, subscriber, start))
        if found is None:
            if len(self._slice_passes) > 65536:
                self._slice_passes.clear()
            found = HeldSlicePass.from_catalog(
                self.catalog, offering_id, subscriber=subscriber,
                start=_EPOCH + timedelta(seconds=int(start)))
            self._slice_passes[(offering_id, subscriber, start)] = found
        return found

    @staticmethod
    def _carried(batch: Batch, carried: list[tuple[Item, UsageEvent, str, Decimal]]) -> None:
        """Give the items their events back; show the carried MB on the charge (or undo the
        pass counter of an event the rate step rejected)."""
        kept = {id(item) for item in batch.items}
        for item, event, key, free in carried:
            item.event = event
            if id(item) not in kept:
                batch.tx.add(None, key, -free)
                continue
            for c in item.charges[:1]:
                c.quantity += free
                c.allowance_units += free

    # -- one event ------------------------------------------------------------------------
    def _lifecycle(self, batch: Batch, item: Item, e: LifecycleEvent | FeeEvent) -> None:
        """Charges, counter moves and partner lines of one event, posted once all are
        known (a problem raises :class:`RatingError` before anything is posted)."""
        sub = item.subscriber
        assert sub is not None
        day = e.start.date()
        tx = batch.tx
        # (offering, +1 / -1) whose benefits start or stop on ``day``
        benefits: list[tuple[str, int]] = []
        one_day: set[str] = set()
        charges: list[Charge] | None = None
        counters: list[tuple[str, Decimal]] = []
        replace_devices = False
        if type(e) is FeeEvent:  # a cycle's recurring fee: the packs renew with it
            charges = self._renewal(batch, sub, day, e.id, counters)
            benefits += [(sub.offer, 1), *((o, 1) for o in self._renewable
                                           if tx.counter(holding_key(sub.id, o)) >= 1)]
        elif type(e) is LifecycleEvent:
            action = e.action
            if action in ("add_offer", "remove_offer"):
                charges = self._add_or_remove(tx, sub, e, day, counters, benefits, one_day)
            elif action in ("add_device", "remove_device"):
                found = self._device_charge(batch, sub, e, day)
                if found is not None:
                    charge, delta = found
                    charges = [charge]
                    replace_devices = True
                    counters.append((device_count_key(sub.id), delta))
            elif action == "activate":
                benefits.append((e.offer or sub.offer, 1))
                plan = self._known(e.offer or sub.offer, day)
                if plan is not None:
                    charges = self._instalments(tx, sub, plan, day, counters, whole=False)
            elif action == "change_offer":
                benefits += [(e.previous_offer or sub.offer, -1), (e.offer, 1)]
            else:  # terminate
                benefits.append((e.previous_offer or e.offer or sub.offer, -1))
        lines = self._partner_lines(sub, benefits, day, one_day)
        currency = sub.account.currency
        if (charges or lines) and currency != self.catalog.default_currency.code:
            raise RatingError(f"event {e.id}: account {sub.account.id} bills in {currency}, "
                              f"the catalog prices in {self.catalog.default_currency.code}")
        # every check passed: post
        if charges is not None:
            kept = [c for c in item.charges if c.item_type != "device"] if replace_devices \
                else item.charges
            item.charges = [*kept, *charges]
        for key, delta in counters:
            if delta:
                tx.add(item.effects, key, delta)
        for partner, parts in lines.items():
            for part, value in zip(_PARTNER_PARTS, parts, strict=True):
                if value:
                    tx.add(item.effects, partner_key(partner, item.post_period, part), value)

    def _add_or_remove(self, tx: LedgerTransaction, sub: SubscriberProfile, e: LifecycleEvent,
                       day: date, counters: list[tuple[str, Decimal]],
                       benefits: list[tuple[str, int]], one_day: set[str]) -> list[Charge]:
        """An add-on or pass taken or dropped: its charges; its holding and benefits."""
        offering = self._offering(e.offer, day, e.id)
        added = e.action == "add_offer"
        charges = self._offer_charges(offering, sub, day, added)
        if _renews(offering):  # an add-on held from cycle to cycle
            key = holding_key(sub.id, e.offer)
            held = tx.counter(key)
            if not added and held < 1:
                raise RatingError(f"event {e.id}: subscriber {sub.id!r} does not hold "
                                  f"{e.offer!r}")
            if added and held >= 1:
                raise RatingError(f"event {e.id}: subscriber {sub.id!r} already holds "
                                  f"{e.offer!r}")
            counters.append((key, _ONE if added else -_ONE))
            benefits.append((e.offer, 1 if added else -1))
        elif added:  # a one-off purchase (a pass, a day): its benefits for that day only
            one_day.add(e.offer)
            benefits.append((e.offer, 1))
        return charges

    def _renewal(self, batch: Batch, sub: SubscriberProfile, day: date, event_id: str,
                 counters: list[tuple[str, Decimal]]) -> list[Charge]:
        """A new cycle's pack charges: the plan's fees for a number of cycles (an instalment,
        while cycles are left), the devices beyond those included and the add-ons held, for
        the whole cycle."""
        tx = batch.tx
        charges = []
        plan = self._known(sub.offer, day)
        if plan is not None:
            charges += self._instalments(tx, sub, plan, day, counters, whole=True)
        held = int(tx.counter(device_count_key(sub.id)))
        if plan is not None and held and any(
                isinstance(p, RecurringPrice) and p.per == "device" for p in plan.prices):
            included, marginal = device_prices(self.catalog, sub.offer)
            start, end = cycle_bounds(day, sub.account.bill_cycle_day)
            end -= ONE_DAY  # the cycle's last day
            days = (end - start).days + 1
            cur = self.catalog.default_currency
            amount = sum((device_charge(self.devices, sub.offer, included, f"device-{rank}",
                                        True, rank, days, days,
                                        Money(marginal[rank - 1], cur)).amount.amount
                          for rank in range(1, min(held, len(marginal)) + 1)), _ZERO)
            if amount:
                charges.append(Charge("device", amount, Decimal(held)))
        for offering_id in self._renewable:
            if tx.counter(holding_key(sub.id, offering_id)) >= 1:
                addon = self._offering(offering_id, day, event_id)  # held: must be priced
                charges += [Charge(price_item_type(offering_id, price.id), price.amount, _ONE)
                            for price in _monthly_prices(addon) if price.amount]
        return charges

    @staticmethod
    def _instalments(tx: LedgerTransaction, sub: SubscriberProfile, plan: ProductOffering,
                     day: date, counters: list[tuple[str, Decimal]],
                     whole: bool) -> list[Charge]:
        """The plan's flat monthly fees limited to a number of ``cycles`` (a phone's
        instalments), each on its own line while cycles are left: for the whole cycle
        (``whole``, a renewal), else from ``day`` to the cycle's end (prorated when the price
        says so). Each counts one cycle."""
        charges = []
        for price in plan.prices:
            if (isinstance(price, RecurringPrice) and price.cycles is not None
                    and price.amount and price.per is None and price.period == "month"):
                key = instalment_key(sub.id, plan.id, price.id)
                if tx.counter(key) >= price.cycles:
                    continue
                amount = price.amount
                if not whole and price.prorate:
                    amount = prorate(amount, day, sub.account.bill_cycle_day,
                                     currency=sub.account.currency)
                charges.append(Charge(price_item_type(plan.id, price.id), amount, _ONE))
                counters.append((key, _ONE))
        return charges

    def _known(self, offering_id: str, day: date) -> ProductOffering | None:
        """The offering valid on ``day``, or ``None`` (not one the packs price: a host's
        own plan, say)."""
        if not offering_id:
            return None
        try:
            return self.catalog.offering(offering_id, on=day)
        except KeyError:
            return None

    def _offering(self, offering_id: str, day: date, event_id: str) -> ProductOffering:
        if not offering_id:
            raise RatingError(f"event {event_id}: `offer` must name a catalog offering")
        return _lookup.offering(self.catalog, offering_id, day, needed_by=f"event {event_id}")

    def _offer_charges(self, offering: ProductOffering, sub: SubscriberProfile, day: date,
                       added: bool) -> list[Charge]:
        """One-time prices (on purchase) and flat monthly fees prorated for the days left."""
        account = sub.account
        once = _ZERO
        for price in offering.prices:
            if isinstance(price, OneTimePrice) and added and price.trigger in (
                    "purchase", "activation"):
                once += price.amount
        charges = []
        if once:
            charges.append(Charge("one_time", once, _ONE))
        for monthly in _monthly_prices(offering):
            assert monthly.amount is not None
            part = (prorate(monthly.amount, day, account.bill_cycle_day,
                            currency=account.currency) if monthly.prorate else monthly.amount)
            if part:  # each price its own ledger line (its own bill line, tax, discounts)
                charges.append(Charge(price_item_type(offering.id, monthly.id),
                                      part if added else -part, _ONE if added else -_ONE))
        return charges

    def _device_charge(self, batch: Batch, sub: SubscriberProfile, e: LifecycleEvent,
                       day: date) -> tuple[Charge, Decimal] | None:
        """The device's charge and the device-count move (``None``: not a per-device plan)."""
        plan = e.offer or sub.offer
        offering = self._known(plan, day)
        if offering is None or not any(
                isinstance(p, RecurringPrice) and p.per == "device" for p in offering.prices):
            return None  # not a plan priced per device: the wrapped step's charges stand
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
        end -= ONE_DAY  # the cycle's last day
        cur = self.catalog.default_currency
        charge = device_charge(self.devices, plan, included, e.device or f"device-{rank}",
                               True, rank, (end - day).days + 1, (end - start).days + 1,
                               Money(marginal[rank - 1], cur))
        amount = charge.amount.amount
        return (Charge("device", amount if added else -amount, _ONE if added else -_ONE),
                _ONE if added else -_ONE)

    def _partner_lines(self, sub: SubscriberProfile, offerings: Iterable[tuple[str, int]],
                       day: date, one_day: set[str]) -> dict[str, list[Decimal]]:
        """Per partner: customer, cost, share and line count of the benefits that start
        (+1) or stop (-1) on ``day``, for the days left in the cycle (only ``day`` for the
        offerings in ``one_day``). A benefit that stops is credited the days left but stays
        one line of the period (as :func:`~telcoflow.offers.partners.partner_report` counts
        a holding that ends in the cycle)."""
        out: dict[str, list[Decimal]] = {}
        bcd = sub.account.bill_cycle_day
        start, _ = cycle_bounds(day, bcd)
        for offering_id, sign in offerings:
            offering = self._known(offering_id, day)
            if offering is None or not offering.benefits:
                continue
            for line in benefit_lines(self.benefits, self.catalog,
                                      [BenefitHolding(sub.id, offering_id, day,
                                                      day if offering_id in one_day else None)],
                                      cycle_start=start, cycle_day=bcd):
                sums = out.setdefault(line.partner, [_ZERO] * 4)
                if sign > 0:
                    sums[0] += line.customer.amount
                    sums[1] += line.partner_cost.amount
                    sums[2] += line.revenue_share.amount
                    sums[3] += _ONE
                else:  # the days left are credited; the line was held in the period all the same
                    sums[0] -= line.customer.amount
                    sums[1] -= line.partner_cost.amount
                    sums[2] -= line.revenue_share.amount
        return out


def with_5g_packs(builder: GraphBuilder, catalog: Catalog, *,
                  benefits: RulePack | str | Path | None = None,
                  devices: RulePack | str | Path | None = None,
                  passes: RulePack | str | Path | None = None) -> GraphBuilder:
    """Wrap ``builder``'s ``rate`` step in :class:`PackCharges` (returns the builder).

    The packs default to the shipped ``rules/5g/partner-benefits.rules.yaml``,
    ``rules/5g/device-count.rules.yaml`` and ``rules/5g/slice-pass.rules.yaml``; pass a
    pack or a path to use others.
    """
    rate = builder.copy().build().step("rate")
    return builder.replace("rate", PackCharges(
        rate, catalog,
        benefits=_pack(benefits, "rules/5g/partner-benefits.rules.yaml"),
        devices=_pack(devices, "rules/5g/device-count.rules.yaml"),
        passes=_pack(passes, "rules/5g/slice-pass.rules.yaml")))


def _pack(given: RulePack | str | Path | None, shipped: str) -> RulePack:
    if isinstance(given, RulePack):
        return given
    return load_pack(given if given is not None else shipped_path(shipped))


def held_add_ons(store: LedgerStore, catalog: Catalog,
                 subscribers: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The add-ons (catalog offerings renewed monthly) each subscriber holds, from what the
    graph posted (``held|<subscriber>|<offering>`` counters), sorted; subscribers holding
    none are left out. What a close needs to judge a bundle's ``requires_offerings`` for
    add-ons taken by events rather than listed as subscriptions."""
    renewable = _renewable(catalog)
    subs = list(subscribers)
    found = store.get_counters([holding_key(s, o) for s in subs for o in renewable])
    out: dict[str, tuple[str, ...]] = {}
    for s in subs:
        held = tuple(o for o in renewable if found.get(holding_key(s, o), _ZERO) >= 1)
        if held:
            out[s] = held
    return out


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
