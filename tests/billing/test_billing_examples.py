"""The worked examples of the specification, exact."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal as Dec

from billing_world import NOV, data, make_billing, tariffs, world

from telcoflow.billing.charging import OnlineCharging
from telcoflow.billing.recurring import prorate
from telcoflow.events import FeeEvent, LifecycleEvent
from telcoflow.ledger import ChangeSet
from telcoflow.stores.memory import MemoryLedgerStore


def test_activation_on_16_november_is_prorated_to_15_00() -> None:
    # 30.00 x 15 days held (16..30 Nov) / 30 days in the cycle = 15.00
    assert prorate(Dec("30.00"), date(2026, 11, 16), 1) == Dec("15.00")
    billing = make_billing()
    event = LifecycleEvent("act-1", "s-post", "post", "activate", datetime(2026, 11, 16, 9),
                           offer="plus")
    result = billing.process([event])
    assert [c.gross for c in result.rated[0].charges] == [Dec("15.00")]
    assert billing.totals() == {("post", "s-post", "recurring", "2026-11-01", "EUR"): Dec("15.00")}


def test_corporate_pays_recurring_and_data_up_to_80() -> None:
    billing = make_billing()
    billing.process([
        FeeEvent("rc-1", "s-emp", "emp", "recurring", NOV, Dec("60.00")),
        data("d-1", "s-emp", "emp", 700),                # 700 MB x 0.05 = 35.00 data
        data("r-1", "s-emp", "emp", 120, zone="eu"),     # 120 MB x 0.10 = 12.00 roaming
    ])
    # corporate: recurring 60.00 + data min(35.00, 80.00 - 60.00) = 20.00 -> 80.00
    # employee: data 35.00 - 20.00 = 15.00 + roaming 12.00 = 27.00
    assert billing.account_totals() == {"corp": Dec("80.00"), "emp": Dec("27.00")}


def test_prepaid_session_gets_200_mb_with_final_unit_and_keeps_2_50() -> None:
    store = MemoryLedgerStore()
    store.apply(ChangeSet(counters={"bal|pre": Dec("10.00")}))
    ocs = OnlineCharging(store, world(), tariffs())
    grant = ocs.initial("sess-1", "s-pre", 10, Dec(500), NOV)
    # 10.00 / 0.05 per MB = 200 MB affordable < 500 asked -> final-unit indication
    assert grant.units == Dec(200)
    assert grant.final_unit is True
    commit = ocs.terminate("sess-1", 10, Dec(150), NOV)
    # 150 MB x 0.05 = 7.50 charged; 10.00 - 7.50 = 2.50 left; 200 - 150 = 50 released
    assert commit.amount == Dec("7.50")
    assert commit.released == Dec(50)
    assert store.get_counters(["bal|pre"]) == {"bal|pre": Dec("2.50")}


def test_credit_notifications_once_per_threshold_whatever_the_order() -> None:
    # credit limit 200.00: 80 % = 160.00 and 100 % = 200.00
    # five events of 1000 MB x 0.05 = 50.00 each: 250.00 in all, both thresholds crossed
    events = [data(f"u{i}", "s-post", "post", 1000) for i in range(5)]
    for order in itertools.islice(itertools.permutations(events), 0, 120, 17):
        billing = make_billing()
        sent = []
        for e in order:  # one event per batch
            sent += billing.process([e]).notifications
        for _ in range(3):  # replaying the stream changes nothing
            result = billing.process(list(order))
            assert result.duplicates == 5
            sent += result.notifications
        assert sorted(n.threshold for n in sent) == [Dec(80), Dec(100)]
        assert {n.limit for n in sent} == {Dec("200.00")}
