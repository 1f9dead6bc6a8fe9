"""Period-cumulative rating: catalog YAML -> events -> graph -> ledger (issue #12).

Every expected amount below is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from decimal import Decimal as Dec
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.batch import Batch
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.billing.transaction import LedgerTransaction
from telcoflow.catalog import Catalog
from telcoflow.events import Event, LifecycleEvent, UsageEvent
from telcoflow.ledger import LedgerStore, period_usage_keys
from telcoflow.loading.catalog import load_catalog, parse_catalog
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteLedgerStore

NOV = datetime(2026, 11, 10, 12)
DEC = datetime(2026, 12, 10, 12)
SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "catalog"


def catalog_with(price: str, *, unit: str = "MB", price_unit: str = "GB", extra: str = "",
                 offering_extra: str = "") -> Catalog:
    """A one-tariff catalog: ``price`` is the YAML of the tariff's price model."""
    return parse_catalog(f"""
kind: catalog
id: t
currency: EUR
tax_categories:
  - {{id: telecom, rates: [{{jurisdiction: NV, percent: 0}}]}}
tariffs:
  - id: data
    service: data
    unit: {unit}
    price_unit: {price_unit}
    increment: {{step: 1}}
    price: {price}
{extra}
offerings:
  - id: plan
    kind: postpaid
    prices:
      - {{price_type: usage, id: data, tariff: data{offering_extra}}}
""")


def billing(catalog: Catalog, store: LedgerStore | None = None, *,
            subscribers: tuple[str, ...] = ("s1", "s2"), account_of: dict[str, str] | None = None,
            period_counters: bool = True) -> RealtimeBilling:
    profiles = DictProfiles()
    for sub in subscribers:
        aid = (account_of or {}).get(sub, f"a-{sub}")
        acct = profiles.account(aid) or AccountProfile(aid)
        profiles.add(acct, SubscriberProfile(sub, acct, "plan"))
    graph = default_graph(profiles, CatalogRater(catalog), period_counters=period_counters)
    return RealtimeBilling(store if store is not None else MemoryLedgerStore(), graph)


def usage(eid: str, sub: str, quantity: int | str, *, at: datetime = NOV, unit: str = "MB",
          account: str | None = None, session: str = "") -> UsageEvent:
    return UsageEvent(eid, sub, account or f"a-{sub}", "data", at, Dec(quantity), unit,
                      session=session)


def opening(sub: str, at: datetime, account: str | None = None) -> LifecycleEvent:
    return LifecycleEvent(f"op|{sub}|{at:%Y-%m}", sub, account or f"a-{sub}", "open_period", at)


def data_total(b: RealtimeBilling, sub: str, period: str = "2026-11-01") -> Dec:
    return sum((ln.amount for ln in b.store.lines(period=period)
                if ln.subscriber == sub and ln.item_type == "data"), Dec(0))


GRADUATED = """
      model: graduated
      tiers:
        - {up_to: 10, unit_price: 2.00, flat_fee: 3.00}
        - {up_to: 50, unit_price: 1.00}
        - {unit_price: 0.50}"""


def test_graduated_tiers_count_the_period_usage() -> None:
    b = billing(catalog_with(GRADUATED, unit="GB", price_unit="GB"))
    b.process([usage("e1", "s1", 12, unit="GB"), usage("e2", "s1", 30, unit="GB")])
    b.process([usage("e3", "s1", 20, unit="GB")])
    # 62 GB: 3.00 flat + 10 x 2.00 + 40 x 1.00 + 12 x 0.50 = 3 + 20 + 40 + 6 = 69.00
    assert data_total(b, "s1") == Dec("69.00")
    # December: no usage, only the period's opening: the first tier's flat fee, 3.00
    b.process([opening("s1", DEC)])
    assert data_total(b, "s1", "2026-12-01") == Dec("3.00")
    # opening November again (or late) changes nothing: its flat fee was already charged
    b.process([opening("s1", NOV)])
    assert data_total(b, "s1") == Dec("69.00")


def test_opening_first_then_usage_charges_the_flat_fee_once() -> None:
    b = billing(catalog_with(GRADUATED, unit="GB", price_unit="GB"))
    b.process([opening("s1", NOV)])
    assert data_total(b, "s1") == Dec("3.00")
    b.process([usage("e1", "s1", 5, unit="GB")])
    # 3.00 + 5 x 2.00 = 13.00 in all, of which the event owes 10.00
    assert data_total(b, "s1") == Dec("13.00")


def test_package_per_started_block_over_the_period() -> None:
    b = billing(catalog_with("{model: package, block_size: 100, block_price: 1.00}",
                             price_unit="MB"))
    b.process([usage(f"e{i}", "s1", 30) for i in range(4)])
    # 120 MB = 2 started blocks of 100 MB x 1.00 = 2.00 (per event it would be 4 x 1.00)
    assert data_total(b, "s1") == Dec("2.00")


def test_two_events_of_one_period_fill_the_tiers_once() -> None:
    price = """
      model: graduated
      tiers:
        - {up_to: 500, unit_price: 1.20}
        - {unit_price: 1.80}"""
    b = billing(catalog_with(price, unit="MB", price_unit="MB"))
    b.process([usage("x", "s1", 400), usage("y", "s1", 400)])
    # 800 units: 500 x 1.20 + 300 x 1.80 = 600 + 540 = 1,140.00 (not 2 x 480 = 960.00)
    assert data_total(b, "s1") == Dec("1140.00")


def test_volume_and_capacity_over_the_period() -> None:
    volume = """
      model: volume
      tiers:
        - {up_to: 5, unit_price: 2.00}
        - {unit_price: 1.50}"""
    b = billing(catalog_with(volume, unit="GB", price_unit="GB"))
    b.process([usage("a", "s1", 3, unit="GB"), usage("b", "s1", 4, unit="GB")])
    # 7 GB all at the second tier's 1.50 = 10.50 (the first event paid 3 x 2.00 = 6.00,
    # the second the difference, 4.50)
    assert data_total(b, "s1") == Dec("10.50")
    capacity = """
      model: capacity
      tiers:
        - {up_to: 2, price: 3.00}
        - {up_to: 10, price: 9.00}
        - {price: 15.00}"""
    c = billing(catalog_with(capacity, unit="GB", price_unit="GB"))
    c.process([usage(f"c{i}", "s1", 1, unit="GB") for i in range(4)])
    # 4 GB in the period: the 2-10 GB tier, 9.00 (per event: 4 x 3.00 = 12.00)
    assert data_total(c, "s1") == Dec("9.00")


def test_minimum_charge_and_connect_fees() -> None:
    cat = catalog_with("{model: per_unit, unit_price: 1.00}", unit="MB", price_unit="GB",
                       extra="    minimum_charge: 5.00\n"
                             "    connect_fee: {amount: 0.10, per: session}")
    b = billing(cat)
    b.process([opening("s2", NOV)])
    # s2 has no usage: the period minimum, 5.00
    assert data_total(b, "s2") == Dec("5.00")
    b.process([usage("m1", "s1", 2000, session="A"), usage("m2", "s1", 1000, session="A"),
               usage("m3", "s1", 500, session="B")])
    # 3.5 GB x 1.00 = 3.50 < 5.00 minimum -> 5.00; connect fees: sessions A and B, 2 x 0.10
    assert data_total(b, "s1") == Dec("5.20")
    b.process([usage("m4", "s1", 4000, session="B")])
    # 7.5 GB = 7.50 > 5.00; no new session: 7.50 + 0.20 = 7.70
    assert data_total(b, "s1") == Dec("7.70")


def test_connect_fee_per_call() -> None:
    cat = catalog_with("{model: per_unit, unit_price: 0}", unit="MB", price_unit="MB",
                       extra="    connect_fee: {amount: 0.15}")
    b = billing(cat)
    b.process([usage("c1", "s1", 1, session="X"), usage("c2", "s1", 1, session="X"),
               usage("c3", "s1", 0)])
    # per call: every record, 3 x 0.15 = 0.45
    assert data_total(b, "s1") == Dec("0.45")


def test_shared_plan_counts_every_line_of_the_account() -> None:
    cat = catalog_with(GRADUATED, unit="GB", price_unit="GB",
                       offering_extra=", aggregation: account")
    b = billing(cat, account_of={"s1": "fam", "s2": "fam"})
    b.process([usage("f1", "s1", 8, unit="GB", account="fam"),
               usage("f2", "s2", 8, unit="GB", account="fam")])
    # 16 GB for the account: 3.00 + 10 x 2.00 + 6 x 1.00 = 29.00 (per line it would be
    # 2 x (3.00 + 16.00) = 38.00); s1 owes 3 + 16 = 19.00, s2 the rest, 10.00
    assert data_total(b, "s1") + data_total(b, "s2") == Dec("29.00")
    assert data_total(b, "s2") == Dec("10.00")


def test_units_convert_when_exact_and_are_refused_otherwise() -> None:
    cat = catalog_with("{model: per_unit, unit_price: 1.00}", unit="MB", price_unit="GB")
    b = billing(cat)
    result = b.process([usage("g", "s1", "1.5", unit="GB"), usage("s", "s1", 60, unit="s"),
                        usage("q", "s1", 10, unit="parsec")])
    # 1.5 GB = 1500 MB = 1.50
    assert data_total(b, "s1") == Dec("1.50")
    assert result.rejected == {"unit-mismatch": 2}
    reasons = {d.event_id: d.message for d in b.store.dead_letters()}
    assert "cannot be rated in 'MB'" in reasons["s"]
    assert "unknown unit 'parsec'" in reasons["q"]
    per_minute = parse_catalog("""
kind: catalog
id: m
currency: EUR
tax_categories:
  - {id: telecom, rates: [{jurisdiction: NV, percent: 0}]}
tariffs:
  - {id: data, service: voice, unit: minute, price: {model: per_unit, unit_price: 0.60}}
offerings:
  - {id: plan, kind: postpaid, prices: [{price_type: usage, id: data, tariff: data}]}
""")
    v = billing(per_minute)
    result = v.process([UsageEvent("v90", "s1", "a-s1", "voice", NOV, Dec(90), "s"),
                        UsageEvent("v7", "s1", "a-s1", "voice", NOV, Dec(7), "s")])
    # 90 s = 1.5 min x 0.60 = 0.90; 7 s is no exact number of minutes: refused
    assert result.rejected == {"unit-mismatch": 1}
    assert sum(ln.amount for ln in v.store.lines()) == Dec("0.90")
    assert "not an exact quantity of minute" in v.store.dead_letters()[0].message


def test_rerating_and_late_events_keep_the_period_total() -> None:
    b = billing(catalog_with(GRADUATED, unit="GB", price_unit="GB"))
    events = [usage("e1", "s1", 12, unit="GB"), usage("e2", "s1", 30, unit="GB")]
    b.process(events)
    b.rerate([events[0]])  # the first event again, now priced after the second
    # still 42 GB: 3.00 + 20.00 + 32 x 1.00 = 55.00
    assert data_total(b, "s1") == Dec("55.00")
    b.close_period("a-s1", "2026-11-01")
    b.process([usage("late", "s1", 20, unit="GB")])  # November usage, posted to December
    # November's 62 GB cost 69.00 (see above): the late event owes 69.00 - 55.00 = 14.00,
    # posted in December's ledger
    assert data_total(b, "s1") == Dec("55.00")
    assert data_total(b, "s1", "2026-12-01") == Dec("14.00")
    keys = period_usage_keys("s1", "data|-", "2026-11-01")
    assert b.store.get_counters(keys) == {keys[0]: Dec(62), keys[1]: Dec("69.00")}


def test_rerating_with_a_corrected_tariff_prices_the_whole_period_anew() -> None:
    b = billing(catalog_with(GRADUATED, unit="GB", price_unit="GB"))
    events = [usage("e1", "s1", 12, unit="GB"), usage("e2", "s1", 30, unit="GB")]
    b.process(events)
    corrected = catalog_with(GRADUATED.replace("unit_price: 1.00", "unit_price: 0.80"),
                             unit="GB", price_unit="GB")
    new_graph = billing(corrected).graph
    b.rerate(events, graph=new_graph)
    # 42 GB at the corrected price: 3.00 + 20.00 + 32 x 0.80 = 48.60
    assert data_total(b, "s1") == Dec("48.60")


def test_docs_catalog_examples_hold_when_usage_arrives_as_many_events() -> None:
    catalog = load_catalog(SHIPPED)
    acct = AccountProfile("a")
    profiles = DictProfiles([acct], [SubscriberProfile("s", acct, "postpaid-50")])
    b = RealtimeBilling(MemoryLedgerStore(), default_graph(profiles, CatalogRater(catalog)))
    start = datetime(2026, 11, 2, 9)  # a Monday
    b.process([UsageEvent(f"h{i}", "s", "a", "data", start + timedelta(minutes=i), Dec(5000))
               for i in range(13)])
    b.process([UsageEvent(f"r{i}", "s", "a", "data", start + timedelta(minutes=i), Dec(6500),
                          zone="roam-eu") for i in range(10)])
    totals = {ln.item_type: ln.amount for ln in b.store.lines()}
    # docs/catalog.md: 65,000 MB at home = 10 x 1.00 + 40 x 0.50 + 15 x 0.20 = 33.00;
    # in the EU 65 GB x 1.50 = 97.50 (per unit: additive)
    assert totals == {"data": Dec("33.00"), "roaming": Dec("97.50")}


# -- properties: any split, order, interleaving, duplicates, crash and rerating ------------

MODELS = {
    "graduated": GRADUATED,
    "volume": """
      model: volume
      tiers:
        - {up_to: 2, unit_price: 2.00, flat_fee: 1.00}
        - {up_to: 6, unit_price: 1.25}
        - {unit_price: 0.70, flat_fee: 0.50}""",
    "package": "{model: package, block_size: 0.3, block_price: 0.90, free_units: 0.5}",
    "capacity": """
      model: capacity
      tiers:
        - {up_to: 1, price: 2.00}
        - {up_to: 4, price: 5.00}
        - {price: 12.00}""",
    "per_unit_rounded": "{model: per_unit, unit_price: 0.333}",
}
ROUNDED = "    rounding: {policy: half-up, per_event: true}"
_CATALOGS = {name: catalog_with(price, unit="MB", price_unit="GB",
                                extra=ROUNDED if name == "per_unit_rounded" else "")
             for name, price in MODELS.items()}

splits = st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(sorted(MODELS)), s1=splits, s2=splits, data=st.data())
def test_period_amount_is_the_price_of_the_total(model: str, s1: list[int], s2: list[int],
                                                 data: st.DataObject) -> None:
    catalog = _CATALOGS[model]
    events: list[Event] = [usage(f"a{i}", "s1", q) for i, q in enumerate(s1)]
    events += [usage(f"b{i}", "s2", q) for i, q in enumerate(s2)]
    events = data.draw(st.permutations(events))
    events += data.draw(st.lists(st.sampled_from(events), max_size=4))  # duplicates
    crash_at = data.draw(st.integers(0, len(events)))
    batch = data.draw(st.integers(1, 5))
    rerated = data.draw(st.lists(st.sampled_from(events), max_size=3, unique_by=lambda e: e.id))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        # a writer that dies: its open transaction (the events up to crash_at) never commits
        dying = billing(catalog, SQLiteLedgerStore(path))
        dying.process(events[:crash_at // 2])
        dying.graph.run(Batch(events[crash_at // 2:crash_at], LedgerTransaction(dying.store)))
        dying.store.close()
        b = billing(catalog, SQLiteLedgerStore(path))
        for i in range(0, len(events), batch):
            b.process(events[i:i + batch])
        b.rerate(rerated)
        reference = billing(catalog)  # the total of each subscriber, rated as one event
        reference.process([usage("t1", "s1", sum(s1)), usage("t2", "s2", sum(s2))])
        for sub in ("s1", "s2"):
            assert data_total(b, sub) == data_total(reference, sub), (model, sub)
        b.store.close()


def test_open_period_for_a_subscriber_without_period_prices_charges_nothing() -> None:
    b = billing(catalog_with("{model: per_unit, unit_price: 1.00}"))
    result = b.process([opening("s1", NOV)])
    assert result.accepted == 1
    assert not result.rated
    assert list(b.store.lines()) == []


def test_without_period_counters_each_event_is_priced_alone() -> None:
    b = billing(catalog_with(GRADUATED, unit="GB", price_unit="GB"), period_counters=False)
    b.process([usage("e1", "s1", 12, unit="GB"), usage("e2", "s1", 30, unit="GB")])
    # per event: (3 + 20 + 2) + (3 + 20 + 20) = 25 + 43 = 68.00 (the old, wrong figure)
    assert data_total(b, "s1") == Dec("68.00")
