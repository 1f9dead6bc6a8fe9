"""Synthetic 5G traffic: a seeded population and a month of its events (deterministic).

:func:`generate_population` builds ``accounts`` billing accounts of six kinds -- prepaid,
postpaid, families (3-4 lines, a capped family discount), corporates (a company account
paying its employees' plan and data up to 80.00 each), 5G slice users (URLLC / eMBB slice
usage) and roamers (EU and rest of the world) -- holding offerings of a product catalog (the
shipped ``examples/catalog`` by default, see :data:`KIND_OFFERS`). The catalog prices
everything: the population is rated by a :class:`~telcoflow.rating.catalog_rater.CatalogRater`,
its allowances are the offerings' catalog allowances and its monthly fees the offerings'
recurring prices.

:func:`generate_events` yields a month of their events in time order: the cycle's recurring
fees and prepaid top-ups first, then data, voice and SMS usage, a few device additions and
payments. Usage carries what the catalog rates: a service the subscriber's offering prices
(in its tariff's unit), a catalog zone, and for slice users a catalog slice class, its 5QI
and a catalog region (a data session naming a slice class is priced by the offering's
``slice`` tariff). The same seed always gives the same population and the same events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType

from telcoflow.accounts import (
    AccountProfile,
    DictProfiles,
    DiscountRule,
    SplitPolicy,
    SubscriberAllowance,
    SubscriberProfile,
)
from telcoflow.billing.recurring import RecurringFees, open_period_events
from telcoflow.catalog import Catalog, UsagePrice
from telcoflow.demo.catalog import default_catalog_path
from telcoflow.errors import DefinitionError, Problem
from telcoflow.events import Event, LifecycleEvent, PaymentEvent, UsageEvent
from telcoflow.loading.catalog import load_catalog
from telcoflow.rating.catalog_rater import CatalogRater

__all__ = [
    "DEVICE_OFFER",
    "KIND_OFFERS",
    "Population",
    "demo_rater",
    "generate_events",
    "generate_population",
]

D = Decimal
_TAX = {"*": D("0.20")}

#: The catalog offerings each kind of customer holds. Postpaid customers hold one of two
#: plans; a family's first line holds ``family-share``, its other lines ``family-line``.
KIND_OFFERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "prepaid": ("prepaid-go",),
    "postpaid": ("postpaid-20", "postpaid-50"),
    "family": ("family-share", "family-line"),
    "corporate": ("business-30",),
    "slice": ("slice-plan",),
    "roamer": ("postpaid-50",),
})
#: The catalog offering whose monthly fee is charged per extra device (``add_device``).
DEVICE_OFFER = "extra-device"

#: Where the generated usage happens (ids the catalog must define).
_HOME = "home"
_ROAMING = ("roam-eu", "roam-world")
#: slice class -> the regions its sessions happen in
_SLICES = {"urllc": ("stadium-north", "capital"), "embb": ("arena", "capital")}
_VOICE_5QI = "1"


def demo_rater(catalog: Catalog | None = None) -> CatalogRater:
    """The synthetic operator's rater: a :class:`CatalogRater` over ``catalog`` (default: the
    shipped ``examples/catalog``, loaded afresh)."""
    return CatalogRater(catalog if catalog is not None else load_catalog(default_catalog_path()))


@dataclass
class Population:
    """A generated customer base with what is needed to rate it.

    ``units`` maps each offering held to the services its usage prices cover and the unit
    of each service's tariff (what :func:`generate_events` may emit for its subscribers).
    """

    profiles: DictProfiles
    rater: CatalogRater
    fees: RecurringFees
    month: date
    kinds: dict[str, str] = field(default_factory=dict)
    roamers: frozenset[str] = frozenset()
    slice_users: frozenset[str] = frozenset()
    units: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def catalog(self) -> Catalog:
        """The product catalog the population's offerings come from."""
        return self.rater.catalog

    @property
    def subscribers(self) -> list[SubscriberProfile]:
        """Every subscriber, in creation order."""
        return self.profiles.subscribers()

    @property
    def accounts(self) -> list[AccountProfile]:
        """Every account, in creation order."""
        return self.profiles.accounts()


_KINDS = ("prepaid", "postpaid", "family", "corporate", "slice", "roamer")
_WEIGHTS = (35, 33, 12, 6, 8, 6)


def _usage_units(catalog: Catalog, month: date) -> dict[str, dict[str, str]]:
    """Offering held -> {service its usage prices cover: that tariff's unit}.

    Raises :class:`DefinitionError` listing every id the generator needs and the catalog lacks.
    """
    problems: list[str] = []
    where = f"catalog {catalog.id or '?'}"
    units: dict[str, dict[str, str]] = {}
    for kind, offers in KIND_OFFERS.items():
        for offer in offers:
            if offer in units:
                continue
            try:
                offering = catalog.offering(offer, on=month)
            except KeyError as exc:
                problems.append(f"{where}: the generator's {kind} customers need offering "
                                f"{offer!r} valid on {month} ({exc.args[0]})")
                continue
            units[offer] = {
                (tariff := catalog.tariff(p.tariff)).service: tariff.unit
                for p in offering.prices if isinstance(p, UsagePrice)
            }
            needed = {"data", "voice"} | ({"slice"} if kind == "slice" else set())
            missing = sorted(needed - set(units[offer]))
            if missing:
                problems.append(f"{where}: offering {offer!r} ({kind}) must price usage of "
                                f"{missing} (it prices {sorted(units[offer])})")
    if DEVICE_OFFER not in catalog.offering_versions:
        problems.append(f"{where}: the generator needs offering {DEVICE_OFFER!r} (the monthly "
                        "fee of an extra device)")
    zones = {z.id for z in catalog.zones}
    for zone in sorted({_HOME, *_ROAMING} - zones):
        problems.append(f"{where}: the generator needs zone {zone!r} (it has {sorted(zones)})")
    classes = {s.id for s in catalog.slice_classes}
    regions = {r.id for r in catalog.regions}
    for slice_class, in_regions in _SLICES.items():
        if slice_class not in classes:
            problems.append(f"{where}: the generator needs slice class {slice_class!r} "
                            f"(it has {sorted(classes)})")
        for region in sorted(set(in_regions) - regions):
            problems.append(f"{where}: the generator needs region {region!r} "
                            f"(it has {sorted(regions)})")
    if problems:
        raise DefinitionError([Problem(p, "E-generator-catalog") for p in problems])
    return units


def generate_population(accounts: int, *, seed: int = 7, month: date = date(2026, 11, 1),
                        catalog: Catalog | None = None) -> Population:
    """``accounts`` billing accounts (corporates count their employees' accounts too) holding
    offerings of ``catalog`` (default: the shipped ``examples/catalog``).

    Raises :class:`~telcoflow.errors.DefinitionError` when the catalog lacks an offering,
    zone, slice class or region the generator uses (see :data:`KIND_OFFERS`).
    """
    rater = demo_rater(catalog)
    units = _usage_units(rater.catalog, month)
    allowances: dict[str, tuple[SubscriberAllowance, ...]] = {
        offer: rater.allowances(offer, on=month) for offer in units}
    monthly = rater.monthly_fees(on=month)

    def sub(sid: str, account: AccountProfile, offer: str, segment: str) -> SubscriberProfile:
        return SubscriberProfile(sid, account, offer, allowances[offer], segment)

    rng = random.Random(seed)
    profiles = DictProfiles()
    kinds: dict[str, str] = {}
    roamers: set[str] = set()
    slices: set[str] = set()
    n = 0
    while n < accounts:
        kind = rng.choices(_KINDS, _WEIGHTS)[0]
        aid = f"A{n:06d}"
        n += 1
        kinds[aid] = kind
        offers = KIND_OFFERS[kind]
        if kind == "prepaid":
            acct = AccountProfile(aid, prepaid=True, tax_rates=_TAX)
            profiles.add(acct, sub(f"S{aid[1:]}-1", acct, offers[0], kind))
        elif kind in ("postpaid", "slice", "roamer"):
            acct = AccountProfile(aid, bill_cycle_day=rng.choice((1, 1, 1, 8, 15, 22)),
                                  credit_limit=D(rng.choice((100, 150, 200, 300))),
                                  tax_rates=_TAX)
            sid = f"S{aid[1:]}-1"
            profiles.add(acct, sub(sid, acct, rng.choice(offers), kind))
            if kind == "roamer":
                roamers.add(sid)
            if kind == "slice":
                slices.add(sid)
        elif kind == "family":
            acct = AccountProfile(
                aid, credit_limit=D(400), tax_rates=_TAX,
                discounts=(DiscountRule("family", D(10), frozenset({"recurring"}), D("10.00")),),
            )
            profiles.add(acct)
            for j in range(rng.choice((3, 4))):
                profiles.add(sub(f"S{aid[1:]}-{j + 1}", acct, offers[0 if j == 0 else 1], kind))
        else:
            corp = AccountProfile(aid, credit_limit=D(5000), tax_rates=_TAX)
            profiles.add(corp)
            for j in range(rng.randint(3, 8)):
                if n >= accounts:
                    break
                eid = f"A{n:06d}"
                n += 1
                kinds[eid] = "employee"
                emp = AccountProfile(
                    eid, credit_limit=D(150), tax_rates=_TAX,
                    split=SplitPolicy(aid, frozenset({"recurring", "data"}), D("80.00")),
                )
                profiles.add(emp, sub(f"S{eid[1:]}-{j + 1}", emp, offers[0], "employee"))
    fees = RecurringFees(monthly, device_fee=monthly[DEVICE_OFFER])
    return Population(profiles, rater, fees, month, kinds, frozenset(roamers),
                      frozenset(slices), units)


_INTS = [Decimal(i) for i in range(2001)]


def generate_events(population: Population, *, events: int, seed: int = 11) -> Iterator[Event]:
    """About ``events`` events of one month, in time order (ids ``e<seed>-<n>``).

    Fees, each line's ``open_period`` event and top-ups come first (at the month's start),
    then usage spread evenly over the month with ~0.1 % device additions and ~0.2 % payments
    mixed in. Usage is 60 % data (1-300 MB; slice users' sessions are ``slice`` usage naming a
    slice class), 25 % voice (5-900 s) and 15 % SMS
    (data instead when the subscriber's offering prices no SMS); roamers are abroad 70 % of
    the time (EU four times in five, else the rest of the world).
    """
    rng = random.Random(seed)
    start = datetime.combine(population.month, time())
    subs = population.subscribers
    month = population.month
    fee_events: list[Event] = [
        fee
        for sub in subs
        for fee in population.fees.cycle_fees(
            [sub], month.replace(day=min(sub.account.bill_cycle_day, 28)))
        if fee.amount
    ]
    # each line's period opening: settles what its period-priced tariffs owe without usage
    fee_events.extend(
        opening
        for sub in subs
        for opening in open_period_events(
            [sub], month.replace(day=min(sub.account.bill_cycle_day, 28))))
    made = 0
    for fee in fee_events:
        if made >= events:
            return
        yield fee
        made += 1
    for acct in population.accounts:
        if made >= events:
            return
        if acct.prepaid:
            yield PaymentEvent(f"t{seed}-{acct.id}", acct.id, "top_up", start, D("20.00"))
            made += 1
    remaining = events - made
    if remaining <= 0 or not subs:
        return
    span = 30 * 86400 / remaining
    roamers = population.roamers
    slices = population.slice_users
    units = population.units
    qos = {s.id: str(s.five_qi or "") for s in population.catalog.slice_classes}
    rand = rng.random
    randint = rng.randint
    ints = _INTS
    n_subs = len(subs)
    for n in range(remaining):
        at = start + timedelta(seconds=int(n * span))
        sub = subs[int(rand() * n_subs)]
        eid = f"e{seed}-{n}"
        r = rand()
        if r < 0.001:
            yield LifecycleEvent(eid, sub.id, sub.account.id, "add_device", at,
                                 device=f"dev-{n}")
            continue
        if r < 0.003:
            yield PaymentEvent(eid, sub.account.id, "top_up" if sub.account.prepaid
                               else "payment", at, D("10.00"), subscriber=sub.id)
            continue
        zone = _HOME
        if sub.id in roamers and rand() < 0.7:
            zone = _ROAMING[0] if rand() < 0.8 else _ROAMING[1]
        priced = units[sub.offer]
        if r >= 0.85 and "sms" in priced:
            yield UsageEvent(eid, sub.id, sub.account.id, "sms", at, ints[1], priced["sms"],
                             zone, rating_group=30)
        elif 0.6 <= r < 0.85:
            yield UsageEvent(eid, sub.id, sub.account.id, "voice", at, ints[randint(5, 900)],
                             priced["voice"], zone, qos=_VOICE_5QI, rating_group=20)
        elif sub.id in slices:
            slice_class = "urllc" if rand() < 0.5 else "embb"
            region = _SLICES[slice_class][0 if rand() < 0.5 else 1]
            yield UsageEvent(eid, sub.id, sub.account.id, "slice", at, ints[randint(1, 300)],
                             priced["slice"], zone, region, slice_class, qos[slice_class],
                             rating_group=10)
        else:
            yield UsageEvent(eid, sub.id, sub.account.id, "data", at, ints[randint(1, 300)],
                             priced["data"], zone, rating_group=10)
