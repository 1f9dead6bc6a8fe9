"""Invariants of the real-time path (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as Dec

from billing_world import FEES, NOV, tariffs, world
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.accounts import (
    AccountProfile,
    DictProfiles,
    SplitPolicy,
    SubscriberAllowance,
    SubscriberProfile,
)
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.errors import RatingError
from telcoflow.events import UsageEvent
from telcoflow.rating.rater import TableRater, UnitTariff
from telcoflow.stores.memory import MemoryLedgerStore

SUBS = [("s-post", "post"), ("s-pre", "pre"), ("s-emp", "emp"), ("s-taxed", "taxed"),
        ("s-fam", "fam"), ("s-bucket", "post")]

quantities = st.integers(min_value=0, max_value=5000)
event_specs = st.lists(
    st.tuples(st.sampled_from(SUBS), st.sampled_from(["data", "voice", "sms"]),
              st.sampled_from(["home", "eu"]), quantities),
    min_size=1, max_size=40,
)


def build(specs: list[tuple[tuple[str, str], str, str, int]]) -> list[UsageEvent]:
    return [UsageEvent(f"e{i}", sub, acct, kind, NOV, Dec(q), zone=zone)
            for i, ((sub, acct), kind, zone, q) in enumerate(specs)]


def billing() -> RealtimeBilling:
    return RealtimeBilling(MemoryLedgerStore(), default_graph(world(), tariffs(), fees=FEES))


@settings(max_examples=60, deadline=None)
@given(q1=quantities, q2=quantities, kind=st.sampled_from(["data", "voice"]),
       used=st.integers(min_value=0, max_value=200))
def test_rated_amount_never_decreases_as_quantity_grows(q1: int, q2: int, kind: str,
                                                        used: int) -> None:
    small, large = sorted((q1, q2))
    amounts = []
    for q in (small, large):
        b = billing()
        if used:  # part of the 100 MB allowance already used
            b.process([UsageEvent("pre", "s-bucket", "post", "data", NOV, Dec(used))])
        (r,) = b.process([UsageEvent("x", "s-bucket", "post", kind, NOV, Dec(q))]).rated
        amounts.append(r.total)
    assert amounts[0] <= amounts[1]


@settings(max_examples=60, deadline=None)
@given(cap=st.integers(min_value=0, max_value=10000),
       sizes=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=12),
       rate=st.sampled_from(["0", "0.20", "0.19"]))
def test_split_parts_sum_exactly_to_the_whole(cap: int, sizes: list[int], rate: str) -> None:
    corp = AccountProfile("corp", tax_rates={"*": Dec(rate)})
    dept = AccountProfile("dept", tax_rates={"*": Dec(rate)},
                          split=SplitPolicy("corp", None, Dec(cap) / 100))
    emp = AccountProfile("emp", tax_rates={"*": Dec(rate)},
                         split=SplitPolicy("dept", frozenset({"data"}), Dec(cap) / 50))
    profiles = DictProfiles([corp, dept, emp], [SubscriberProfile("s", emp)])
    rater = TableRater({("data", "*", ""): UnitTariff("data", Dec("0.013"))})
    b = RealtimeBilling(MemoryLedgerStore(), default_graph(profiles, rater))
    result = b.process([UsageEvent(f"e{i}", "s", "emp", "data", NOV, Dec(q))
                        for i, q in enumerate(sizes)])
    for r in result.rated:
        for c in r.charges:
            assert sum((n for _, n, _ in c.shares), Dec(0)) == c.net
            assert sum((t for _, _, t in c.shares), Dec(0)) == c.tax
    whole = sum((r.total for r in result.rated), Dec(0))
    assert sum(b.account_totals().values(), Dec(0)) == whole


@settings(max_examples=40, deadline=None)
@given(specs=event_specs, cut=st.integers(min_value=0, max_value=40))
def test_replaying_a_stream_changes_nothing(specs: list[tuple[tuple[str, str], str, str, int]],
                                            cut: int) -> None:
    events = build(specs)
    b = billing()
    b.process(events[:cut])  # a crash after part of the stream, then a full replay
    b.process(events)
    once = b.totals()
    counters = b.store.get_counters(["bal|pre", "spend|post|2026-11-01",
                                     "alw|s-bucket|d100|2026-11-01"])
    replay = b.process([replace(e) for e in events])
    assert replay.duplicates == len(events)
    assert replay.rated == []
    assert replay.notifications == []
    assert b.totals() == once
    assert b.store.get_counters(["bal|pre", "spend|post|2026-11-01",
                                 "alw|s-bucket|d100|2026-11-01"]) == counters
    fresh = billing()
    fresh.process(events)
    assert fresh.totals() == once


@settings(max_examples=40, deadline=None)
@given(specs=event_specs)
def test_ledger_totals_equal_the_sum_of_rated_events(
        specs: list[tuple[tuple[str, str], str, str, int]]) -> None:
    b = billing()
    rated = b.process(build(specs)).rated
    assert sum(b.totals().values(), Dec(0)) == sum((r.total for r in rated), Dec(0))


def test_allowance_is_used_before_money() -> None:
    bucket = SubscriberAllowance("d", Dec(100), frozenset({"data"}))
    acct = AccountProfile("a")
    profiles = DictProfiles([acct], [SubscriberProfile("s", acct, allowances=(bucket,))])
    b = RealtimeBilling(MemoryLedgerStore(), default_graph(profiles, tariffs()))
    rated = b.process([UsageEvent(f"e{i}", "s", "a", "data", NOV, Dec(60)) for i in range(2)]).rated
    # 60 free; then 40 free + 20 x 0.05 = 1.00
    assert [(r.charges[0].allowance_units, r.charges[0].gross) for r in rated] == [
        (Dec(60), Dec(0)), (Dec(40), Dec("1.00"))]


def test_allowances_are_used_by_priority() -> None:
    late = SubscriberAllowance("late", Dec(10), frozenset({"data"}), priority=20)
    first = SubscriberAllowance("first", Dec(10), frozenset({"data"}), priority=1)
    acct = AccountProfile("a")
    sub = SubscriberProfile("s", acct, allowances=(late, first))
    assert [a.name for a in sub.allowances] == ["first", "late"]
    b = RealtimeBilling(MemoryLedgerStore(), default_graph(DictProfiles([acct], [sub]), tariffs()))
    b.process([UsageEvent("e", "s", "a", "data", NOV, Dec(15))])
    # 10 from "first" (priority 1), then 5 from "late"
    assert b.store.get_counters(["alw|s|first|2026-11-01", "alw|s|late|2026-11-01"]) == {
        "alw|s|first|2026-11-01": Dec(10), "alw|s|late|2026-11-01": Dec(5)}


def test_a_price_error_rejects_without_using_the_allowance() -> None:
    class Capped:
        item_type = "data"

        def charged_units(self, quantity: Dec) -> Dec:
            return quantity

        def amount(self, units: Dec) -> Dec:
            if units > 100:
                raise RatingError(f"quantity {units} is above the last tier")
            return units

    class CappedRater:
        def tariff(self, event: UsageEvent, subscriber: SubscriberProfile) -> Capped:
            return Capped()

    bucket = SubscriberAllowance("d", Dec(50), frozenset({"data"}))
    acct = AccountProfile("a")
    sub = SubscriberProfile("s", acct, allowances=(bucket,))
    b = RealtimeBilling(MemoryLedgerStore(),
                        default_graph(DictProfiles([acct], [sub]), CappedRater()))
    result = b.process([UsageEvent("big", "s", "a", "data", NOV, Dec(500))])
    assert result.rejected == {"unrateable": 1}
    assert b.store.get_counters(["alw|s|d|2026-11-01"]) == {}
