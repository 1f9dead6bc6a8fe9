"""Rating through the example 5G catalog (offering versions, rates, bands, allowances)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as Dec
from pathlib import Path

import pytest

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.events import UsageEvent
from telcoflow.loading.catalog import load_catalog
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.stores.memory import MemoryLedgerStore

CATALOG = Path(__file__).resolve().parents[2] / "examples" / "catalog"
WEEKDAY = datetime(2026, 11, 10, 10)   # a Tuesday
SATURDAY = datetime(2026, 11, 14, 10)


@pytest.fixture(scope="module")
def rater() -> CatalogRater:
    return CatalogRater(load_catalog(CATALOG))


def pipeline(rater: CatalogRater, *, with_allowances: bool = False) -> RealtimeBilling:
    acct = AccountProfile("a")
    allowances = rater.allowances("postpaid-50", on=date(2026, 11, 1)) if with_allowances \
        else ()
    sub = SubscriberProfile("s", acct, "postpaid-50", allowances)
    return RealtimeBilling(MemoryLedgerStore(), default_graph(DictProfiles([acct], [sub]), rater))


def test_catalog_tariffs_rates_and_bands(rater: CatalogRater) -> None:
    rated = pipeline(rater).process([
        UsageEvent("d", "s", "a", "data", WEEKDAY, Dec(2048)),
        UsageEvent("r", "s", "a", "data", WEEKDAY, Dec(100), zone="roam-eu"),
        UsageEvent("v", "s", "a", "voice", WEEKDAY, Dec(61), unit="s"),
        UsageEvent("w", "s", "a", "voice", SATURDAY, Dec(61), unit="s"),
    ]).rated
    got = {r.event_id: (r.charges[0].item_type, r.charges[0].gross) for r in rated}
    assert got == {
        "d": ("data", Dec("2.048")),     # 2048 MB = 2.048 GB x 1.00 (first tier)
        "r": ("roaming", Dec("0.15")),   # 0.1 GB x 1.50 (roam-eu rate)
        "v": ("voice", Dec("0.18")),     # 61 s -> 90 s = 1.5 min x 0.12
        "w": ("voice", Dec("0.075")),    # weekend band: 1.5 min x 0.05
    }


def test_catalog_allowances_in_usage_units(rater: CatalogRater) -> None:
    allowances = {a.name: a.units for a in rater.allowances("postpaid-50",
                                                             on=date(2026, 11, 1))}
    # 30 GB = 30000 MB; 500 min = 30000 s; 1000 SMS
    assert allowances == {"data-30gb": Dec(30000), "voice-500min": Dec(30000),
                          "sms-1000": Dec(1000)}
    (r,) = pipeline(rater, with_allowances=True).process(
        [UsageEvent("d", "s", "a", "data", WEEKDAY, Dec(2048))]).rated
    assert (r.charges[0].allowance_units, r.charges[0].gross) == (Dec(2048), Dec(0))


def test_offering_version_and_monthly_fees(rater: CatalogRater) -> None:
    # postpaid-50 cost 45.00 until 30 June 2026 and 50.00 from 1 July
    assert rater.monthly_fees(on=date(2026, 3, 1))["postpaid-50"] == Dec("45.00")
    assert rater.monthly_fees(on=date(2026, 11, 1))["postpaid-50"] == Dec("50.00")


def test_missing_usage_price_is_unrateable(rater: CatalogRater) -> None:
    acct = AccountProfile("a")
    sub = SubscriberProfile("s", acct, "iot-connect")
    billing = RealtimeBilling(MemoryLedgerStore(),
                              default_graph(DictProfiles([acct], [sub]), rater))
    result = billing.process([UsageEvent("v", "s", "a", "voice", WEEKDAY, Dec(10), unit="s")])
    assert result.rejected == {"unrateable": 1}
    assert "has no usage price for service 'voice'" in billing.store.dead_letters()[0].message


def test_rules_choose_the_same_tariffs_as_the_catalog(rater: CatalogRater) -> None:
    from telcoflow.rating.rules_rater import RulesRater
    from telcoflow.rules import load_pack

    rules = RulesRater(load_pack(CATALOG.parents[1] / "rules" / "rating"), rater.catalog)
    sub = SubscriberProfile("s", AccountProfile("a"), "postpaid-50")
    events = [
        UsageEvent("d", "s", "a", "data", WEEKDAY, Dec(2048)),
        UsageEvent("r", "s", "a", "data", WEEKDAY, Dec(100), zone="roam-eu"),
        UsageEvent("v", "s", "a", "voice", WEEKDAY, Dec(61), unit="s"),
        UsageEvent("w", "s", "a", "voice", SATURDAY, Dec(61), unit="s"),
        UsageEvent("o", "s", "a", "voice", datetime(2026, 11, 27, 21, 30), Dec(61), unit="s"),
    ]
    for e in events:
        by_rules, by_catalog = rules.tariff(e, sub), rater.tariff(e, sub)
        assert by_rules.item_type == by_catalog.item_type
        assert by_rules.amount(by_rules.charged_units(e.quantity)) == by_catalog.amount(
            by_catalog.charged_units(e.quantity))
    # offpeak voice: 61 s -> 90 s = 1.5 min x 0.06 = 0.09
    assert rules.amount_for(events[-1], sub) == Dec("0.09")
    billing = RealtimeBilling(MemoryLedgerStore(),
                              default_graph(DictProfiles([sub.account], [sub]), rules))
    assert billing.process(events).accepted == 5
