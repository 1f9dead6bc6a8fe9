"""Synthetic 5G traffic: a seeded population and a month of its events (deterministic).

:func:`generate_population` builds ``accounts`` billing accounts of six kinds -- prepaid,
postpaid, families (3-4 lines, a capped family discount), corporates (a company account
paying its employees' plan and data up to 80.00 each), 5G slice users (URLLC / eMBB slice
usage) and roamers -- with their offers, allowances, a table rater and recurring fees.
:func:`generate_events` yields a month of their events in time order: the cycle's recurring
fees and prepaid top-ups first, then data, voice and SMS usage, a few device additions and
payments. The same seed always gives the same population and the same events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from telcoflow.billing.profiles import (
    AccountProfile,
    DictProfiles,
    DiscountRule,
    SplitPolicy,
    SubscriberProfile,
)
from telcoflow.billing.recurring import RecurringFees
from telcoflow.events import Event, LifecycleEvent, PaymentEvent, UsageEvent
from telcoflow.rating.allowances import Allowance
from telcoflow.rating.rater import TableRater, UnitTariff

__all__ = ["OFFERS", "Population", "demo_rater", "generate_events", "generate_population"]

D = Decimal
_TAX = {"*": D("0.20")}

#: offer -> (monthly fee, allowances)
OFFERS: dict[str, tuple[Decimal, tuple[Allowance, ...]]] = {
    "prepaid-go": (D("0.00"), (Allowance("go-data", D(2000), frozenset({"data"}),
                                         frozenset({"home"})),)),
    "5g-basic": (D("15.00"), (
        Allowance("basic-data", D(5000), frozenset({"data"}), frozenset({"home"})),
        Allowance("basic-voice", D(18000), frozenset({"voice"}), frozenset({"home"})),
    )),
    "5g-plus": (D("30.00"), (
        Allowance("plus-data", D(30000), frozenset({"data"}), frozenset({"home"})),
        Allowance("plus-voice", D(60000), frozenset({"voice", "sms"}), frozenset({"home"})),
    )),
    "5g-max": (D("50.00"), (
        Allowance("max-data", D(100000), frozenset({"data"}), None),
    )),
    "corp-5g": (D("40.00"), (
        Allowance("corp-data", D(20000), frozenset({"data"}), frozenset({"home"})),
    )),
    "slice-pass": (D("20.00"), ()),
}


def demo_rater() -> TableRater:
    """The synthetic operator's usage tariffs (per MB, per second after a minute, per SMS)."""
    return TableRater({
        ("data", "home", ""): UnitTariff("data", D("0.01")),
        ("data", "home", "URLLC"): UnitTariff("slice", D("0.03")),
        ("data", "home", "eMBB"): UnitTariff("slice", D("0.015")),
        ("data", "*", ""): UnitTariff("roaming", D("0.05")),
        ("voice", "home", ""): UnitTariff("voice", D("0.0015"), step=D(30), minimum=D(60)),
        ("voice", "*", ""): UnitTariff("roaming", D("0.005"), step=D(30), minimum=D(60)),
        ("sms", "home", ""): UnitTariff("sms", D("0.05")),
        ("sms", "*", ""): UnitTariff("roaming", D("0.15")),
    })


@dataclass
class Population:
    """A generated customer base with what is needed to rate it."""

    profiles: DictProfiles
    rater: TableRater
    fees: RecurringFees
    month: date
    kinds: dict[str, str] = field(default_factory=dict)
    roamers: frozenset[str] = frozenset()
    slice_users: frozenset[str] = frozenset()

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


def _sub(sid: str, account: AccountProfile, offer: str, segment: str) -> SubscriberProfile:
    return SubscriberProfile(sid, account, offer, OFFERS[offer][1], segment)


def generate_population(accounts: int, *, seed: int = 7,
                        month: date = date(2026, 11, 1)) -> Population:
    """``accounts`` billing accounts (corporates count their employees' accounts too)."""
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
        if kind == "prepaid":
            acct = AccountProfile(aid, prepaid=True, tax_rates=_TAX)
            profiles.add(acct, _sub(f"S{aid[1:]}-1", acct, "prepaid-go", kind))
        elif kind in ("postpaid", "slice", "roamer"):
            acct = AccountProfile(aid, bill_cycle_day=rng.choice((1, 1, 1, 8, 15, 22)),
                                  credit_limit=D(rng.choice((100, 150, 200, 300))),
                                  tax_rates=_TAX)
            offer = {"postpaid": rng.choice(("5g-basic", "5g-plus", "5g-max")),
                     "slice": "slice-pass", "roamer": "5g-max"}[kind]
            sid = f"S{aid[1:]}-1"
            profiles.add(acct, _sub(sid, acct, offer, kind))
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
                profiles.add(_sub(f"S{aid[1:]}-{j + 1}", acct,
                                  "5g-plus" if j == 0 else "5g-basic", kind))
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
                profiles.add(emp, _sub(f"S{eid[1:]}-{j + 1}", emp, "corp-5g", "employee"))
    fees = RecurringFees({k: v[0] for k, v in OFFERS.items()}, device_fee=D("5.00"))
    return Population(profiles, demo_rater(), fees, month, kinds, frozenset(roamers),
                      frozenset(slices))


_INTS = [Decimal(i) for i in range(2001)]


def generate_events(population: Population, *, events: int, seed: int = 11) -> Iterator[Event]:
    """About ``events`` events of one month, in time order (ids ``e<seed>-<n>``).

    Fees and top-ups come first (at the month's start), then usage spread evenly over the
    month with ~0.1 % device additions and ~0.2 % payments mixed in.
    """
    rng = random.Random(seed)
    start = datetime.combine(population.month, time())
    subs = population.subscribers
    month = population.month
    fee_events = [
        fee
        for sub in subs
        for fee in population.fees.cycle_fees(
            [sub], month.replace(day=min(sub.account.bill_cycle_day, 28)))
    ]
    made = 0
    for fee in fee_events:
        if made >= events:
            return
        if fee.amount:
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
        zone = "eu" if sub.id in roamers and rand() < 0.7 else "home"
        if r < 0.6:
            slice_name = ("URLLC" if rand() < 0.5 else "eMBB") if sub.id in slices else ""
            yield UsageEvent(eid, sub.id, sub.account.id, "data", at, ints[randint(1, 300)],
                             "MB", zone, "EU" if zone == "eu" else "north", slice_name,
                             "9" if slice_name else "", "", 10)
        elif r < 0.85:
            yield UsageEvent(eid, sub.id, sub.account.id, "voice", at, ints[randint(5, 900)],
                             "s", zone, "", "", "1", "", 20)
        else:
            yield UsageEvent(eid, sub.id, sub.account.id, "sms", at, ints[1], "msg", zone,
                             "", "", "", "", 30)
