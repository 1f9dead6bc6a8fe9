"""The 5G packs through the real-time graph: a slice pass, devices, partner benefits, from
the shipped catalog (examples/catalog + examples/catalog-5g) and events only."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as Dec
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from offers_world import catalog, pack

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.billing.recurring import RecurringFees
from telcoflow.events import Event, LifecycleEvent, PaymentEvent, UsageEvent
from telcoflow.money import Money
from telcoflow.offers.graph import PackCharges, partner_report_of, with_5g_packs
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.stores.memory import MemoryLedgerStore

NOV = "2026-11-01"   # November 2026: 30 days, bill cycle day 1


def eur(text: str) -> Money:
    return Money(text, "EUR")


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour)


def profiles() -> DictProfiles:
    home = AccountProfile("h")                       # a home 5G plan, priced per device
    fans = AccountProfile("f")                       # a 5G plan, add-ons and passes
    pre = AccountProfile("p", prepaid=True)          # a prepaid customer buying a pass
    return DictProfiles([home, fans, pre], [
        SubscriberProfile("home", home, "home-5g"),
        SubscriberProfile("fan", fans, "postpaid-50"),
        SubscriberProfile("max", fans, "plan-5g-video"),
        SubscriberProfile("go", pre, "prepaid-go"),
    ])


def billing() -> RealtimeBilling:
    rater = CatalogRater(catalog())
    fees = RecurringFees(rater.monthly_fees(on=date(2026, 11, 1)))
    builder = with_5g_packs(default_graph(profiles(), rater, fees=fees), catalog(),
                            benefits=pack("partner-benefits.rules.yaml"),
                            devices=pack("device-count.rules.yaml"),
                            passes=pack("slice-pass.rules.yaml"))
    return RealtimeBilling(MemoryLedgerStore(), builder)


def life(eid: str, sub: str, account: str, action: str, when: datetime, *, offer: str = "",
         device: str = "") -> LifecycleEvent:
    return LifecycleEvent(eid, sub, account, action, when, offer=offer, device=device)


EVENTS: list[Event] = [
    # the stadium pass bought on the 27th: one-time 5.00
    life("pass-1", "fan", "f", "add_offer", at(27, 18), offer="stadium-pass-3h"),
    # three devices on the 1st (included), a console on the 16th, removed on the 21st
    *(life(f"dev-{n}", "home", "h", "add_device", at(1), device=f"d{n}") for n in (1, 2, 3)),
    life("dev-4", "home", "h", "add_device", at(16), device="console"),
    life("dev-4-off", "home", "h", "remove_device", at(21), device="console"),
    # StreamFlix taken on the 16th, TuneWave on the 1st; 5G Max (StreamFlix included) on the 1st
    life("video", "fan", "f", "add_offer", at(16), offer="video-plus"),
    life("music", "fan", "f", "add_offer", at(1), offer="music-plus"),
    life("max-on", "max", "f", "activate", at(1), offer="plan-5g-video"),
    # a prepaid customer tops up 10.00 and buys the base catalog's 4-hour pass (4.99)
    PaymentEvent("top", "p", "top_up", at(20), Dec("10.00")),
    life("pass-2", "go", "p", "add_offer", at(20), offer="stadium-slice-pass"),
]


def lines(rb: RealtimeBilling) -> dict[tuple[str, str, str], tuple[Dec, Dec]]:
    return {(ln.account, ln.subscriber, ln.item_type): (ln.amount, ln.quantity)
            for ln in rb.store.lines(period=NOV)}


def test_packs_reach_the_ledger_and_the_partner_report() -> None:
    rb = billing()
    result = rb.process(EVENTS)
    assert (result.accepted, dict(result.rejected)) == (len(EVENTS), {})
    assert lines(rb) == {
        # stadium-pass-3h: one-time 5.00
        # each add-on's fee on its own line: video-plus 10.00 x 15/30 = 5.00, music-plus
        # 5.00 x 30/30 = 5.00
        ("f", "fan", "one_time"): (Dec("5.00"), Dec(1)),
        ("f", "fan", "recurring:video-plus/membership"): (Dec("5.00"), Dec(1)),
        ("f", "fan", "recurring:music-plus/membership"): (Dec("5.00"), Dec(1)),
        # plan-5g-video activated on the 1st: 40.00 x 30/30
        ("f", "max", "recurring"): (Dec("40.00"), Dec(1)),
        # ranks 1-3 included (0.00); the console, rank 4 at 5.00 a month: 5.00 x 15/30 =
        # 2.50 on the 16th, less 5.00 x 10/30 = 1.666.. -> 1.67 for the 21st-30th: 0.83
        ("h", "home", "device"): (Dec("0.83"), Dec(3)),
        # stadium-slice-pass: one-time 4.99
        ("p", "go", "one_time"): (Dec("4.99"), Dec(1)),
    }
    # the prepaid pass is paid from the balance: 10.00 - 4.99 = 5.01
    assert rb.store.get_counters(["bal|p", "dev|home"]) == {"bal|p": Dec("5.01"),
                                                            "dev|home": Dec(3)}
    report = partner_report_of(rb.store, catalog(), NOV)
    by_partner = {p.partner: (p.customer, p.partner_cost, p.revenue_share, p.lines)
                  for p in report.partners}
    assert by_partner == {
        # video-membership 15 of 30 days: customer 10.00 x 1/2 = 5.00, cost 7.00 x 1/2 = 3.50,
        # share 30 % of 5.00 = 1.50; video-included (in 5G Max), full cycle: cost 6.00
        "streamflix": (eur("5.00"), eur("9.50"), eur("1.50"), 2),
        # music-membership, full cycle: 5.00, cost 3.50, share 30 % of 5.00 = 1.50
        "tunewave": (eur("5.00"), eur("3.50"), eur("1.50"), 1),
    }
    # 5.00 + 5.00 from customers; 9.50 + 3.50 to partners; 1.50 + 1.50 kept
    assert (report.total.customer, report.total.partner_cost, report.total.revenue_share) == (
        eur("10.00"), eur("13.00"), eur("3.00"))


def test_replays_and_rerating_change_nothing() -> None:
    rb = billing()
    rb.process(EVENTS)
    before = (lines(rb), partner_report_of(rb.store, catalog(), NOV))
    again = rb.process(EVENTS)
    assert (again.duplicates, again.rated) == (len(EVENTS), [])
    assert rb.rerate(EVENTS) == []
    assert (lines(rb), partner_report_of(rb.store, catalog(), NOV)) == before
    assert rb.store.get_counters(["dev|home"]) == {"dev|home": Dec(3)}


def test_dropping_an_add_on_credits_the_days_left_and_the_partner_lines() -> None:
    rb = billing()
    rb.process([life("music", "fan", "f", "add_offer", at(1), offer="music-plus"),
                life("music-off", "fan", "f", "remove_offer", at(16), offer="music-plus")])
    # 5.00 for the cycle, less 5.00 x 15/30 = 2.50 for the 16th-30th
    assert lines(rb) == {("f", "fan", "recurring:music-plus/membership"): (Dec("2.50"), Dec(0))}
    (tunewave,) = partner_report_of(rb.store, catalog(), NOV).partners
    # customer 5.00 - 2.50; cost 3.50 - 1.75; share 1.50 - 0.75 (30 % of 2.50); one line:
    # held from the 1st to the 15th, as the batch partner report counts that holding
    assert (tunewave.customer, tunewave.partner_cost, tunewave.revenue_share,
            tunewave.lines) == (eur("2.50"), eur("1.75"), eur("0.75"), 1)


def test_bad_pack_events_are_rejected_with_a_reason_and_leave_no_trace() -> None:
    rb = billing()
    result = rb.process([
        life("off", "home", "h", "remove_device", at(2), device="x"),
        life("odd", "fan", "f", "add_offer", at(2), offer="no-such-offer"),
        *(life(f"d{n}", "home", "h", "add_device", at(2)) for n in range(11)),
    ])
    assert result.rejected == {"unrateable": 3}
    assert {d.event_id: d.message for d in rb.store.dead_letters()} == {
        "d10": "event d10: offering 'home-5g' allows 10 devices; subscriber 'home' already "
               "has 10",
        "odd": "unknown offering 'no-such-offer' in catalog nova5g (event odd)",
        "off": "event off: subscriber 'home' has no device on 'home-5g' to remove",
    }
    assert rb.store.get_counters(["dev|home"]) == {"dev|home": Dec(10)}
    # ranks 1-3 free, ranks 4-10 at 5.00 x 29/30 = 4.833.. -> 4.83 each: 7 x 4.83 = 33.81
    assert lines(rb)[("h", "home", "device")] == (Dec("33.81"), Dec(10))


def test_the_step_keeps_the_rate_steps_place() -> None:
    graph = billing().graph
    assert graph.order.index("rate") == 3
    assert isinstance(graph.step("rate"), PackCharges)


@pytest.mark.parametrize("action", ["add_offer", "remove_offer"])
def test_add_offer_needs_an_offer(action: str) -> None:
    rb = billing()
    assert rb.process([life("x", "fan", "f", action, at(3))]).rejected == {"unrateable": 1}
    assert "`offer` must name a catalog offering" in rb.store.dead_letters()[0].message


def test_usage_inside_the_pass_is_carried_the_rest_pays_the_normal_tariff() -> None:
    rb = billing()

    def use(eid: str, hour: int, minute: int, region: str, mb: int,
            qos: str = "") -> UsageEvent:
        return UsageEvent(eid, "fan", "f", "data", datetime(2026, 11, 27, hour, minute),
                          Dec(mb), region=region, slice=qos)

    result = rb.process([
        # stadium-pass-3h: 5.00, 18:00-21:00 in stadium-north on URLLC, 5,000 MB included
        life("pass-1", "fan", "f", "add_offer", at(27, 18), offer="stadium-pass-3h"),
        use("e1", 18, 30, "stadium-north", 4000, "urllc"),   # carried: 4,000 of 5,000
        use("e2", 19, 30, "stadium-north", 2000),            # 1,000 carried, 1,000 billed
        use("e3", 20, 0, "capital", 1000),                   # outside the region: billed
        use("e4", 20, 30, "stadium-north", 300, "embb"),     # another QoS class: billed
        use("e5", 21, 0, "stadium-north", 500),              # the window is over: billed
    ])
    assert result.rejected == {}
    charged = {r.event_id: (r.charges[0].gross, r.charges[0].allowance_units)
               for r in result.rated if r.kind == "usage"}
    # postpaid-50's data tariff: 1.00 per GB (first tier): 1,000 MB = 1.00, 300 MB = 0.30
    assert charged == {"e1": (Dec(0), Dec(4000)), "e2": (Dec("1.00"), Dec(1000)),
                       "e3": (Dec("1.00"), Dec(0)), "e4": (Dec("0.30"), Dec(0)),
                       "e5": (Dec("0.50"), Dec(0))}
    # the pass fee 5.00 and 1.00 + 1.00 + 0.30 + 0.50 = 2.80 of data over
    # 4,000 + 2,000 + 1,000 + 300 + 500 = 7,800 MB
    assert lines(rb) == {("f", "fan", "one_time"): (Dec("5.00"), Dec(1)),
                         ("f", "fan", "data"): (Dec("2.80"), Dec(7800))}
    assert rb.store.get_counters(["pass|fan|stadium-pass-3h|used"]) == {
        "pass|fan|stadium-pass-3h|used": Dec(5000)}
    # a replay carries nothing twice; the events' payloads are the ones that came
    assert rb.process([use("e2", 19, 30, "stadium-north", 2000)]).duplicates == 1
    assert rb.store.get_counters(["pass|fan|stadium-pass-3h|used"]) == {
        "pass|fan|stadium-pass-3h|used": Dec(5000)}
    assert rb.rerate([use("e1", 18, 30, "stadium-north", 4000, "urllc"),
                      use("e2", 19, 30, "stadium-north", 2000)]) == []


def test_without_a_pass_stadium_usage_pays_the_normal_tariff() -> None:
    rb = billing()
    (r,) = rb.process([UsageEvent("e1", "fan", "f", "data", at(27, 19), Dec(1000),
                                  region="stadium-north")]).rated
    assert (r.charges[0].gross, r.charges[0].allowance_units) == (Dec("1.00"), Dec(0))


def test_the_next_cycle_renews_devices_add_ons_and_partner_lines() -> None:
    rb = billing()
    rb.process([
        *(life(f"dev-{n}", "home", "h", "add_device", at(1), device=f"d{n}") for n in (1, 2, 3)),
        life("dev-4", "home", "h", "add_device", at(16), device="console"),
        life("video", "fan", "f", "add_offer", at(16), offer="video-plus"),
        life("max-on", "max", "f", "activate", at(1), offer="plan-5g-video"),
    ])
    rater = CatalogRater(catalog())
    fees = RecurringFees(rater.monthly_fees(on=date(2026, 12, 1)))
    subs = profiles().subscribers()[:3]
    december = fees.cycle_fees(subs, date(2026, 12, 1))
    assert [e.id for e in december] == ["rc|home|2026-12-01", "rc|fan|2026-12-01",
                                        "rc|max|2026-12-01"]
    assert rb.process(december).rejected == {}
    dec = {(ln.account, ln.subscriber, ln.item_type): (ln.amount, ln.quantity)
           for ln in rb.store.lines(period="2026-12-01")}
    assert dec == {
        ("h", "home", "recurring"): (Dec("30.00"), Dec(1)),   # home-5g base
        ("h", "home", "device"): (Dec("5.00"), Dec(4)),       # ranks 1-3 free, rank 4: 5.00
        ("f", "fan", "recurring"): (Dec("50.00"), Dec(1)),    # postpaid-50
        ("f", "fan", "recurring:video-plus/membership"): (Dec("10.00"), Dec(1)),  # renewed
        ("f", "max", "recurring"): (Dec("40.00"), Dec(1)),    # plan-5g-video
    }
    (streamflix,) = partner_report_of(rb.store, catalog(), "2026-12-01").partners
    # a whole cycle: video-membership 10.00, cost 7.00, share 3.00; video-included cost 6.00
    assert (streamflix.customer, streamflix.partner_cost, streamflix.revenue_share,
            streamflix.lines) == (eur("10.00"), eur("13.00"), eur("3.00"), 2)


def test_a_day_benefit_is_one_day_and_does_not_renew() -> None:
    rb = billing()
    rb.process([life("scenic", "fan", "f", "add_offer", at(27), offer="scenic-live")])
    assert lines(rb) == {("f", "fan", "one_time"): (Dec("3.00"), Dec(1))}
    (arenacast,) = partner_report_of(rb.store, catalog(), NOV).partners
    # one day of scenic-live-day: customer 3.00, cost 1.80, share 40 % of 3.00 = 1.20
    assert (arenacast.customer, arenacast.partner_cost, arenacast.revenue_share,
            arenacast.lines) == (eur("3.00"), eur("1.80"), eur("1.20"), 1)


def test_an_add_on_is_held_once_and_dropped_only_when_held() -> None:
    rb = billing()
    result = rb.process([
        life("m1", "fan", "f", "add_offer", at(2), offer="music-plus"),
        life("m2", "fan", "f", "add_offer", at(3), offer="music-plus"),
        life("v1", "fan", "f", "remove_offer", at(3), offer="video-plus"),
    ])
    assert result.rejected == {"unrateable": 2}
    assert {d.event_id: d.message for d in rb.store.dead_letters()} == {
        "m2": "event m2: subscriber 'fan' already holds 'music-plus'",
        "v1": "event v1: subscriber 'fan' does not hold 'video-plus'",
    }
    assert rb.store.get_counters(["held|fan|music-plus"]) == {"held|fan|music-plus": Dec(1)}



def test_events_about_offerings_the_catalog_does_not_price_are_left_alone() -> None:
    # a host's own plan, not in the catalog, with its own fee table and a device fee
    usd = AccountProfile("u", currency="USD")
    host = SubscriberProfile("own", usd, "host-plan")
    fees = RecurringFees({"host-plan": Dec("30.00")}, device_fee=Dec("6.00"))
    events: list[Event] = [
        life("on", "own", "u", "activate", at(16), offer="host-plan"),
        life("dev", "own", "u", "add_device", at(16), device="tablet"),
        life("off", "own", "u", "terminate", at(21), offer="host-plan"),
        *fees.cycle_fees([host], date(2026, 12, 1)),
    ]
    ledgers = []
    for packs in (False, True):
        builder = default_graph(DictProfiles([usd], [host]), CatalogRater(catalog()), fees=fees)
        if packs:
            builder = with_5g_packs(builder, catalog(),
                                    benefits=pack("partner-benefits.rules.yaml"),
                                    devices=pack("device-count.rules.yaml"),
                                    passes=pack("slice-pass.rules.yaml"))
        rb = RealtimeBilling(MemoryLedgerStore(), builder)
        assert rb.process(events).rejected == {}
        ledgers.append(rb.store.lines())
    # 30.00 x 15/30 = 15.00 - 30.00 x 10/30 = 10.00 -> 5.00; device 6.00 x 15/30 = 3.00;
    # December: 30.00
    assert {(ln.period, ln.item_type): ln.amount for ln in ledgers[1]} == {
        (NOV, "recurring"): Dec("5.00"), (NOV, "device"): Dec("3.00"),
        ("2026-12-01", "recurring"): Dec("30.00")}
    assert ledgers[0] == ledgers[1]


def test_an_add_on_for_an_account_in_another_currency_is_rejected() -> None:
    usd = AccountProfile("u", currency="USD")
    rb = RealtimeBilling(MemoryLedgerStore(), with_5g_packs(
        default_graph(DictProfiles([usd], [SubscriberProfile("own", usd, "host-plan")]),
                      CatalogRater(catalog())), catalog(),
        benefits=pack("partner-benefits.rules.yaml"), devices=pack("device-count.rules.yaml"),
        passes=pack("slice-pass.rules.yaml")))
    result = rb.process([life("v", "own", "u", "add_offer", at(16), offer="video-plus")])
    assert result.rejected == {"unrateable": 1}
    assert rb.store.dead_letters()[0].message == (
        "event v: account u bills in USD, the catalog prices in EUR")
    assert rb.store.get_counters(["held|own|video-plus"]) == {}


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(EVENTS) - 1), max_size=5),
       replayed=st.integers(min_value=0, max_value=len(EVENTS)))
def test_any_batching_and_replay_gives_the_same_ledger_and_report(cuts: list[int],
                                                                  replayed: int) -> None:
    reference = billing()
    reference.process(EVENTS)
    rb = billing()
    bounds = [0, *sorted(set(cuts)), len(EVENTS)]
    for start, end in pairwise(bounds):
        rb.process(EVENTS[start:end])
    rb.process(EVENTS[:replayed])   # a redelivery of a prefix: duplicates only
    assert lines(rb) == lines(reference)
    assert partner_report_of(rb.store, catalog(), NOV) == partner_report_of(
        reference.store, catalog(), NOV)
