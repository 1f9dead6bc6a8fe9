"""Exactly-once effect, dead letters, late events, rerating."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal as Dec
from pathlib import Path

import pytest
from billing_world import FEES, NOV, data, make_billing, tariffs, world

from telcoflow.billing.realtime import default_graph
from telcoflow.errors import DefinitionError
from telcoflow.events import Event, FeeEvent, PaymentEvent, UsageEvent
from telcoflow.stores.sqlite import SQLiteLedgerStore


def test_same_id_same_payload_is_a_noop() -> None:
    billing = make_billing()
    e = data("e1", "s-post", "post", 10)
    first = billing.process([e])
    again = billing.process([replace(e)])
    assert (first.accepted, len(first.rated)) == (1, 1)
    assert (again.accepted, again.duplicates, len(again.rated)) == (1, 1, 0)
    # 10 MB x 0.05 = 0.50, once
    assert billing.account_totals() == {"post": Dec("0.50")}


def test_same_id_other_payload_is_rejected_with_a_reason() -> None:
    billing = make_billing()
    billing.process([data("e1", "s-post", "post", 10)])
    result = billing.process([data("e1", "s-post", "post", 11)])
    assert result.rejected == {"conflict": 1}
    (dead,) = billing.store.dead_letters()
    assert dead.event_id == "e1"
    assert dead.reason == "conflict"
    assert "already accepted with another payload" in dead.message
    assert billing.account_totals() == {"post": Dec("0.50")}


def test_duplicates_inside_one_batch() -> None:
    billing = make_billing()
    e = data("e1", "s-post", "post", 10)
    result = billing.process([e, replace(e), data("e1", "s-post", "post", 99)])
    assert (result.accepted, result.duplicates, result.rejected) == (2, 1, {"conflict": 1})
    assert billing.account_totals() == {"post": Dec("0.50")}


def test_accepted_plus_rejected_equals_submitted() -> None:
    billing = make_billing()
    events: list[Event] = [
        data("ok", "s-post", "post", 1),
        data("neg", "s-post", "post", -5),
        UsageEvent("badtype", "s-post", "post", "fax", NOV, Dec(1)),
        data("nobody", "s-ghost", "post", 1),
        data("wrongacct", "s-post", "pre", 1),
        FeeEvent("usd", "s-post", "post", "one_time", NOV, Dec(5), currency="USD"),
        PaymentEvent("pay0", "post", "payment", NOV, Dec(0)),
        data("ok", "s-post", "post", 1),
    ]
    result = billing.process(events)
    assert result.rejected == {"invalid": 3, "unknown-subscriber": 1, "account-mismatch": 1,
                               "currency-mismatch": 1}
    assert result.accepted + sum(result.rejected.values()) == result.submitted == 8
    reasons = {d.event_id: d.message for d in billing.store.dead_letters()}
    assert reasons["neg"] == "`quantity` must be >= 0 (got -5 in event neg)"
    assert ("`usage_type` must be one of ['data', 'slice', 'sms', 'units', 'voice'] (got 'fax'"
            in reasons["badtype"])
    snap = billing.kpis.snapshot()
    assert snap.accepted + snap.rejected_total == snap.submitted == 8


def test_late_event_goes_to_the_next_period_by_default() -> None:
    billing = make_billing()
    billing.close_period("post", "2026-11-01")
    billing.process([data("late", "s-post", "post", 10)])
    (line,) = billing.store.lines()
    assert line.period == "2026-12-01"


def test_late_event_rejected_under_the_reject_policy() -> None:
    billing = make_billing(late_policy="reject")
    billing.close_period("post", "2026-11-01")
    result = billing.process([data("late", "s-post", "post", 10)])
    assert result.rejected == {"period-closed": 1}
    assert billing.store.lines() == []


def test_unknown_late_policy_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="late_policy"):
        default_graph(world(), tariffs(), late_policy="later")  # type: ignore[arg-type]


def test_rerating_posts_differences_and_reverses_allowances() -> None:
    billing = make_billing()
    # s-bucket has 100 MB free: 80 MB free, then 50 MB = 20 free + 30 charged x 0.05 = 1.50
    events = [data("b1", "s-bucket", "post", 80), data("b2", "s-bucket", "post", 50)]
    billing.process(events)
    assert billing.account_totals() == {"post": Dec("1.50")}
    assert billing.store.get_counters(["alw|s-bucket|d100|2026-11-01"]) == {
        "alw|s-bucket|d100|2026-11-01": Dec(100)}
    corrected = default_graph(world(), tariffs(data_price="0.04"), fees=FEES).build()
    adjustments = billing.rerate(events, graph=corrected)
    # new: 30 MB x 0.04 = 1.20; difference 1.20 - 1.50 = -0.30 on the data line
    assert [(a.item_type, a.amount) for a in adjustments] == [("data", Dec("-0.30"))]
    assert billing.account_totals() == {"post": Dec("1.20")}
    # the allowance was given back and used again: still exactly 100 MB
    assert billing.store.get_counters(["alw|s-bucket|d100|2026-11-01"]) == {
        "alw|s-bucket|d100|2026-11-01": Dec(100)}
    # postpaid spend follows: 1.20
    assert billing.store.get_counters(["spend|post|2026-11-01"]) == {
        "spend|post|2026-11-01": Dec("1.20")}
    # rerating again with the same tariff changes nothing
    assert billing.rerate(events, graph=corrected) == []


def test_rerating_a_closed_period_adjusts_the_next_one() -> None:
    billing = make_billing()
    events = [data("c1", "s-post", "post", 100)]  # 100 x 0.05 = 5.00
    billing.process(events)
    billing.close_period("post", "2026-11-01")
    corrected = default_graph(world(), tariffs(data_price="0.03"), fees=FEES).build()
    adjustments = billing.rerate(events, graph=corrected)
    # 100 x 0.03 = 3.00: -2.00, posted to December; November stays as billed
    assert [(a.period, a.amount) for a in adjustments] == [("2026-12-01", Dec("-2.00"))]
    assert billing.account_totals(period="2026-11-01") == {"post": Dec("5.00")}
    assert billing.account_totals(period="2026-12-01") == {"post": Dec("-2.00")}


def test_prepaid_top_up_and_exhaustion_notification() -> None:
    billing = make_billing()
    billing.process([PaymentEvent("t1", "pre", "top_up", NOV, Dec("1.00"))])
    # 30 MB x 0.05 = 1.50 > 1.00: balance 0.00 (its floor), debt 0.50, one notification
    r1 = billing.process([data("p1", "s-pre", "pre", 30)])
    assert [(n.kind, n.amount) for n in r1.notifications] == [("prepaid-debt", Dec("0.50"))]
    # 1 MB x 0.05 = 0.05 more debt: 0.55, already told (the account is in debt)
    r2 = billing.process([data("p2", "s-pre", "pre", 1)])
    assert r2.notifications == []
    # a replay of both changes nothing and tells nothing
    assert billing.process([data("p1", "s-pre", "pre", 30),
                            data("p2", "s-pre", "pre", 1)]).notifications == []
    assert billing.store.get_counters(["bal|pre", "debt|pre"]) == {
        "bal|pre": Dec("0.00"), "debt|pre": Dec("0.55")}


def test_discount_cap_and_tax() -> None:
    billing = make_billing()
    # fam: 10 % off data, at most 1.00 per period. 100 MB = 5.00 -> 0.50 off;
    # another 100 MB -> 0.50 off (cap reached: 1.00); a third -> nothing off.
    rated = billing.process([data(f"f{i}", "s-fam", "fam", 100) for i in range(3)]).rated
    assert [r.charges[0].discount for r in rated] == [Dec("0.50"), Dec("0.50"), Dec(0)]
    assert billing.account_totals() == {"fam": Dec("14.00")}  # 15.00 - 1.00
    # taxed: 20 % on 10 MB x 0.05 = 0.50 -> 0.10 tax, 0.60 in all (exact digits kept:
    # 0.50 x 0.20 = 0.1000; rounding happens on the bill, not per event)
    (r,) = billing.process([data("t1", "s-taxed", "taxed", 10)]).rated
    assert (r.net, r.total) == (Dec("0.50"), Dec("0.60"))
    tmf = r.to_tmf635()
    assert tmf["ratedProductUsage"][0]["taxIncludedRatingAmount"] == {"value": Dec("0.6000"),
                                                                       "unit": "EUR"}


def test_sqlite_backend_gives_the_same_ledger(tmp_path: Path) -> None:
    events: list[Event] = [data(f"x{i}", "s-emp", "emp", 300 + i) for i in range(10)]
    events.append(FeeEvent("rc", "s-emp", "emp", "recurring", NOV, Dec("60.00")))
    memory = make_billing()
    memory.process(events)
    store = SQLiteLedgerStore(tmp_path / "l.db")
    durable = make_billing(store)
    durable.process(events[:4])
    durable.process(events)
    assert durable.totals() == memory.totals()
    store.close()
    reopened = make_billing(SQLiteLedgerStore(tmp_path / "l.db"))
    assert reopened.process(events).duplicates == len(events)
    assert reopened.totals() == memory.totals()


def test_lifecycle_change_offer_and_terminate() -> None:
    billing = make_billing()
    day = datetime(2026, 11, 21)  # 10 days left of 30 (21..30 Nov)
    from telcoflow.events import LifecycleEvent

    result = billing.process([
        LifecycleEvent("chg", "s-post", "post", "change_offer", day, offer="max",
                       previous_offer="plus"),
        LifecycleEvent("dev", "s-post", "post", "add_device", day, device="watch"),
        LifecycleEvent("end", "s-post", "post", "terminate", datetime(2026, 11, 26),
                       previous_offer="max"),
        LifecycleEvent("sus", "s-post", "post", "suspend", day),
    ])
    charges = {r.event_id: [c.gross for c in r.charges] for r in result.rated}
    # change: 45.00 x 10/30 - 30.00 x 10/30 = 15.00 - 10.00 = 5.00
    # device: 6.00 x 10/30 = 2.00; terminate on 26 Nov: -(45.00 x 5/30) = -7.50
    assert charges == {"chg": [Dec("5.00")], "dev": [Dec("2.00")], "end": [Dec("-7.50")]}
    assert result.accepted == 4


def test_account_level_external_fee() -> None:
    billing = make_billing()
    result = billing.process([FeeEvent("ext", "", "corp", "external", NOV, Dec("7.00"),
                                       description="partner video")])
    assert result.accepted == 1
    assert billing.totals() == {("corp", "", "external", "2026-11-01", "EUR"): Dec("7.00")}


def test_rerating_on_sqlite_survives_a_reopen(tmp_path: Path) -> None:
    store = SQLiteLedgerStore(tmp_path / "r.db", checkpoint_every=1000)
    billing = make_billing(store)
    events = [data("b1", "s-bucket", "post", 80), data("b2", "s-bucket", "post", 50)]
    billing.process(events)
    corrected = default_graph(world(), tariffs(data_price="0.04"), fees=FEES).build()
    billing.rerate(events, graph=corrected)
    billing.process([data("b3", "s-bucket", "post", 10)])  # journaled, not checkpointed
    # crash: reopen without closing. Rerated: 30 MB x 0.04 = 1.20; b3 went through the
    # pipeline's own (uncorrected) graph: 10 MB x 0.05 = 0.50; 1.70 in all
    reopened = make_billing(SQLiteLedgerStore(tmp_path / "r.db"))
    assert reopened.account_totals() == {"post": Dec("1.70")}
    assert reopened.store.get_counters(["alw|s-bucket|d100|2026-11-01"]) == {
        "alw|s-bucket|d100|2026-11-01": Dec(100)}
    assert reopened.process(events).duplicates == 2


def test_closing_a_period_checkpoints_the_sqlite_ledger_table(tmp_path: Path) -> None:
    import sqlite3

    store = SQLiteLedgerStore(tmp_path / "c.db", checkpoint_every=1000)
    billing = make_billing(store)
    billing.process([data("c1", "s-post", "post", 100)])  # 100 x 0.05 = 5.00, journaled
    raw = sqlite3.connect(tmp_path / "c.db")
    assert raw.execute("SELECT count(*) FROM ledger").fetchone()[0] == 0  # not yet folded
    billing.close_period("post", "2026-11-01")
    # a bill run reading the table after the close sees every line of the period
    assert raw.execute("SELECT amount FROM ledger").fetchone()[0] == "5.00"
    store.close()
