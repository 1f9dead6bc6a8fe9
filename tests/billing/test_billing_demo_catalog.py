"""The synthetic population holds offerings of the shipped catalog and is rated by it.

Catalog YAML (examples/catalog) -> generated population -> events -> default graph ->
ledger -> cycle close (examples/close/close-policy.yaml) -> bill, with figures worked by hand
from the catalog's prices.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal as Dec
from pathlib import Path

import pytest

from telcoflow.accounts import SubscriberProfile
from telcoflow.billing.cycle import BillCycle, BillingAccount, Subscription, close_account
from telcoflow.billing.cycle.model import Bill
from telcoflow.billing.cycle.policy import load_close_policy
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.demo import default_close_policy_path
from telcoflow.demo.billing import run_billing_demo
from telcoflow.demo.generator import (
    DEVICE_OFFER,
    KIND_OFFERS,
    Population,
    generate_events,
    generate_population,
)
from telcoflow.errors import DefinitionError
from telcoflow.events import Event, UsageEvent
from telcoflow.loading.catalog import load_catalog
from telcoflow.rating.tax import TaxRules
from telcoflow.stores.memory import MemoryLedgerStore

CATALOG = Path(__file__).resolve().parents[2] / "examples" / "catalog"
TUESDAY = datetime(2026, 11, 10, 10)  # a weekday, peak band


@pytest.fixture(scope="module")
def pop() -> Population:
    return generate_population(300, seed=7)


@pytest.fixture(scope="module")
def events(pop: Population) -> list[Event]:
    return list(generate_events(pop, events=20_000, seed=8))


def test_population_holds_only_catalog_offerings(pop: Population) -> None:
    shipped = load_catalog(CATALOG)
    offers = Counter(s.offer for s in pop.subscribers)
    assert set(offers) <= set(shipped.offering_versions)
    # every offering of the six kinds is held by someone in 300 accounts
    assert set(offers) == {o for kind in KIND_OFFERS.values() for o in kind}
    assert {"prepaid", "postpaid", "family", "corporate", "slice", "roamer",
            "employee"} <= set(pop.kinds.values())
    for sub in pop.subscribers:
        kind = pop.kinds[sub.account.id]
        expected = KIND_OFFERS["corporate" if kind == "employee" else kind]
        assert sub.offer in expected, (sub.id, kind, sub.offer)


def test_allowances_and_fees_come_from_the_catalog(pop: Population) -> None:
    by_offer = {s.offer: s for s in pop.subscribers}
    # postpaid-50: data-30gb = 30 x 1000 MB, voice-500min = 500 x 60 s, sms-1000
    assert {a.name: a.units for a in by_offer["postpaid-50"].allowances} == {
        "data-30gb": Dec(30000), "voice-500min": Dec(30000), "sms-1000": Dec(1000)}
    # family-share: family-data-100gb = 100 x 1000 MB, voice-500min = 30000 s
    assert {a.name: a.units for a in by_offer["family-share"].allowances} == {
        "family-data-100gb": Dec(100000), "voice-500min": Dec(30000)}
    # prepaid-go's only allowance is money (welcome credit): no usage bucket
    assert by_offer["prepaid-go"].allowances == ()
    # monthly fees as written in offerings.yaml; family-share is its 60.00 base (the per-device
    # price and the 24 phone instalments are not a flat monthly plan fee)
    assert {o: pop.fees.monthly[o] for o in ("prepaid-go", "postpaid-20", "postpaid-50",
                                             "family-share", "family-line", "business-30",
                                             "slice-plan")} == {
        "prepaid-go": Dec(0), "postpaid-20": Dec("20.00"), "postpaid-50": Dec("50.00"),
        "family-share": Dec("60.00"), "family-line": Dec("10.00"),
        "business-30": Dec("30.00"), "slice-plan": Dec("20.00")}
    assert pop.fees.device_fee == Dec("5.00")  # the extra-device add-on
    assert DEVICE_OFFER == "extra-device"


def test_same_seed_same_population_and_events(pop: Population, events: list[Event]) -> None:
    again = generate_population(300, seed=7)
    assert [(s.id, s.offer, s.allowances) for s in again.subscribers] == [
        (s.id, s.offer, s.allowances) for s in pop.subscribers]
    assert list(generate_events(again, events=20_000, seed=8)) == events
    other = generate_population(300, seed=8)
    assert [s.offer for s in other.subscribers] != [s.offer for s in pop.subscribers]


def test_every_generated_usage_event_is_rateable(pop: Population,
                                                 events: list[Event]) -> None:
    catalog = pop.catalog
    zones = {z.id for z in catalog.zones}
    classes = {c.id for c in catalog.slice_classes}
    regions = {r.id for r in catalog.regions}
    # the tariffs' own units
    units = {"data": "MB", "slice": "MB", "voice": "second", "sms": "message"}
    seen: Counter[str] = Counter()
    usage = [e for e in events if isinstance(e, UsageEvent)]
    assert len(usage) > 19_000
    for e in usage:
        sub = pop.profiles.subscriber(e.subscriber)
        assert sub is not None
        tariff = pop.rater.tariff(e, sub)  # raises RatingError when the catalog cannot rate it
        tariff.amount(tariff.charged_units(e.quantity))
        assert e.unit == units[e.usage_type], e
        assert e.zone in zones, e
        assert e.slice == "" or e.slice in classes, e
        assert e.region == "" or e.region in regions, e
        seen[tariff.item_type] += 1
        seen[e.zone] += 1
        seen[e.slice or "-"] += 1
    assert {"data", "voice", "sms", "slice", "roaming", "home", "roam-eu", "roam-world",
            "urllc", "embb"} <= set(seen)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_other_seeds_rate_without_rejections(seed: int) -> None:
    small = generate_population(50, seed=seed)
    billing = RealtimeBilling(MemoryLedgerStore(),
                              default_graph(small.profiles, small.rater, fees=small.fees))
    totals = billing.stream(generate_events(small, events=3000, seed=seed + 10))
    assert (totals.submitted, totals.rejected, totals.reasons) == (3000, 0, {})


def test_the_whole_month_streams_without_rejections(pop: Population,
                                                    events: list[Event]) -> None:
    billing = RealtimeBilling(MemoryLedgerStore(),
                              default_graph(pop.profiles, pop.rater, fees=pop.fees))
    totals = billing.stream(events, batch_size=1000)
    assert (totals.submitted, totals.rejected, totals.reasons) == (20_000, 0, {})
    item_types = {ln.item_type for ln in billing.store.lines()}
    assert {"data", "voice", "sms", "slice", "roaming", "recurring", "tax"} <= item_types


def test_billing_demo_ledger_holds_data_voice_sms_and_slice(tmp_path: Path) -> None:
    import io

    out = io.StringIO()
    demo = run_billing_demo(120, db_path=tmp_path / "demo.db", out=out, events=6000, seed=7)
    assert (demo.submitted, demo.rejected, demo.reasons) == (6000, 0, {})
    assert {"data", "voice", "sms", "slice"} <= set(demo.by_item_type)
    assert all(demo.by_item_type[t] > 0 for t in ("data", "voice", "sms", "slice"))
    assert demo.ledger_total == demo.rated_total
    assert "rated by the catalog nova5g" in out.getvalue()


def _pick(pop: Population, offer: str, kind: str) -> SubscriberProfile:
    return next(s for s in pop.subscribers if s.offer == offer
                and pop.kinds[s.account.id] == kind and s.account.bill_cycle_day == 1)


def _close(sub: SubscriberProfile, store: MemoryLedgerStore) -> Bill:
    account = BillingAccount(sub.account.id, "Customer", "EUR",
                             subscriptions=(Subscription(sub.id, sub.offer),))
    bill = close_account(account, store.lines(account=sub.account.id),
                         BillCycle.for_month(1, 2026, 11),
                         load_close_policy(default_close_policy_path()))
    assert isinstance(bill, Bill), bill
    return bill


def test_slice_user_from_catalog_to_bill(pop: Population) -> None:
    sub = _pick(pop, "slice-plan", "slice")
    s, a = sub.id, sub.account.id
    store = MemoryLedgerStore()
    billing = RealtimeBilling(store, default_graph(pop.profiles, pop.rater, fees=pop.fees,
                                            taxes=TaxRules(pop.catalog)))
    result = billing.process([
        *pop.fees.cycle_fees([sub], date(2026, 11, 1)),
        UsageEvent("u1", s, a, "data", TUESDAY, Dec(300), "MB", region="stadium-north",
                   slice="urllc"),
        UsageEvent("u2", s, a, "data", TUESDAY, Dec(500), "MB", region="capital",
                   slice="embb"),
        UsageEvent("u3", s, a, "data", TUESDAY, Dec(250), "MB", region="capital",
                   slice="urllc"),
        UsageEvent("u4", s, a, "data", TUESDAY, Dec(2048), "MB"),
        UsageEvent("u5", s, a, "voice", TUESDAY, Dec(61), "second"),
        UsageEvent("u6", s, a, "sms", TUESDAY, Dec(1), "message"),
    ])
    assert result.rejected == {}
    ledger = {ln.item_type: ln.amount for ln in store.lines(account=a)}
    # slice: u1 URLLC in the stadium, capacity tier up to 2 GB: 3.00;
    #        u2 eMBB, volume 0.5 GB x 2.00 = 1.00; u3 URLLC elsewhere, 0.25 GB x 4.00 = 1.00
    # data: 2048 MB = 2.048 GB x 1.00 (first graduated tier), no data allowance on slice-plan
    # voice: 61 s -> 90 s, all from voice-500min; sms: 1 from sms-1000
    assert ledger == {"recurring": Dec("20.00"), "slice": Dec("5.00"), "data": Dec("2.048"),
                      "voice": Dec(0), "sms": Dec(0),
                      # the catalog's tax (NV, telecom 8 %) of 27.048 = 2.16384 (exact)
                      "tax": Dec("2.16384")}
    bill = _close(sub, store)
    lines = {ln.item_type: (ln.amount, ln.tax) for ln in bill.lines}
    # close, by the same catalog rule, rounded per line: data 2.048 -> 2.05;
    # 8 % of 20.00 = 1.60, of 5.00 = 0.40, of 2.05 = 0.164 -> 0.16: 2.16;
    # total 27.05 + 2.16 = 29.21
    assert lines["recurring"] == (Dec("20.00"), Dec("1.60"))
    assert lines["slice"] == (Dec("5.00"), Dec("0.40"))
    assert lines["data"] == (Dec("2.05"), Dec("0.16"))
    assert (bill.subtotal, bill.tax_total, bill.total) == (
        Dec("27.05"), Dec("2.16"), Dec("29.21"))
    assert bill.ledger_tax == Dec("2.16384")


def test_roamer_from_catalog_to_bill(pop: Population) -> None:
    sub = _pick(pop, "postpaid-50", "roamer")
    s, a = sub.id, sub.account.id
    store = MemoryLedgerStore()
    billing = RealtimeBilling(store, default_graph(pop.profiles, pop.rater, fees=pop.fees,
                                            taxes=TaxRules(pop.catalog)))
    result = billing.process([
        *pop.fees.cycle_fees([sub], date(2026, 11, 1)),
        UsageEvent("r1", s, a, "data", TUESDAY, Dec(100), "MB", "roam-eu"),
        UsageEvent("r2", s, a, "data", TUESDAY, Dec(100), "MB", "roam-world"),
        UsageEvent("r3", s, a, "voice", TUESDAY, Dec(61), "second", "roam-world"),
        UsageEvent("r4", s, a, "sms", TUESDAY, Dec(1), "message", "roam-world"),
    ])
    assert result.rejected == {}
    ledger = {ln.item_type: ln.amount for ln in store.lines(account=a)}
    # usage abroad is one `roaming` line: r1: 100 MB from data-30gb (home and roam-eu), 0;
    # r2: 0.1 GB x 9.00 = 0.90; r3: voice-500min does not cover roam-world,
    # 90 s = 1.5 min x 1.20 = 1.80; r4: sms-1000 covers every zone, 0 -> 2.70
    assert ledger == {"recurring": Dec("50.00"), "roaming": Dec("2.70"),
                      "tax": Dec("4.216")}  # the catalog's telecom 8 % of 52.70
    bill = _close(sub, store)
    # 50.00 + 2.70 = 52.70; the catalog's loyalty discount (5 % of postpaid-50's recurring
    # fee, forever since July 2026): 2.50; tax per line 8 % of 47.50 = 3.80, of 2.70 = 0.216
    # -> 0.22: 4.02; total 52.70 - 2.50 + 4.02 = 54.22
    assert [(d.discount_id, d.amount) for d in bill.discounts] == [("loyalty", Dec("2.50"))]
    assert (bill.subtotal, bill.tax_total, bill.total) == (
        Dec("52.70"), Dec("4.02"), Dec("54.22"))


def test_a_catalog_without_the_generators_offerings_is_refused(tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text(
        (CATALOG / "catalog.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "tariffs.yaml").write_text(
        (CATALOG / "tariffs.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "offerings.yaml").write_text(
        "kind: catalog\nofferings:\n"
        "  - id: prepaid-go\n    name: Go\n    kind: prepaid\n    prices:\n"
        "      - {price_type: usage, id: data, tariff: data}\n"
        "      - {price_type: usage, id: voice, tariff: voice}\n",
        encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        generate_population(5, catalog=load_catalog(tmp_path))
    text = str(info.value)
    assert "customers need offering 'postpaid-20' valid on 2026-11-01" in text
    assert "needs offering 'extra-device'" in text
    assert "offering 'prepaid-go'" not in text  # it is there and prices data and voice
