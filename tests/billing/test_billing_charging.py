"""Online charging: reserve, update, terminate, expiry, allowances first, postpaid limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as Dec

import pytest
from billing_world import NOV, tariffs, world

from telcoflow.billing.charging import OnlineCharging
from telcoflow.errors import EventRejectedError, RatingError
from telcoflow.ledger import ChangeSet
from telcoflow.stores.memory import MemoryLedgerStore


def ocs(balance: str = "10.00") -> tuple[OnlineCharging, MemoryLedgerStore]:
    store = MemoryLedgerStore()
    store.apply(ChangeSet(counters={"bal|pre": Dec(balance)}))
    return OnlineCharging(store, world(), tariffs(), validity=timedelta(minutes=5)), store


def test_grant_in_full_without_final_unit_when_affordable() -> None:
    o, _ = ocs()
    grant = o.initial("s1", "s-pre", 10, Dec(100), NOV)  # 100 x 0.05 = 5.00 <= 10.00
    assert (grant.units, grant.final_unit) == (Dec(100), False)


def test_concurrent_sessions_share_the_balance() -> None:
    o, _ = ocs()
    first = o.initial("a", "s-pre", 10, Dec(150), NOV)    # holds 7.50
    second = o.initial("b", "s-pre", 10, Dec(150), NOV)   # 2.50 left -> 50 MB
    assert (first.units, second.units, second.final_unit) == (Dec(150), Dec(50), True)


def test_update_commits_then_reserves_again() -> None:
    o, store = ocs()
    o.initial("a", "s-pre", 10, Dec(100), NOV)
    commit, grant = o.update("a", 10, Dec(100), Dec(500), NOV)
    # 100 x 0.05 = 5.00 committed; 5.00 left buys 100 MB of the 500 asked
    assert commit.amount == Dec("5.00")
    assert (grant.units, grant.final_unit) == (Dec(100), True)
    o.terminate("a", 10, Dec(20), NOV)  # 20 x 0.05 = 1.00
    assert store.get_counters(["bal|pre"]) == {"bal|pre": Dec("4.00")}
    (line,) = store.lines()
    assert (line.amount, line.quantity) == (Dec("6.00"), Dec(120))


def test_reservations_expire_and_release_their_hold() -> None:
    o, _ = ocs()
    o.initial("a", "s-pre", 10, Dec(200), NOV)
    assert o.initial("b", "s-pre", 10, Dec(10), NOV).units == Dec(0)
    expired = o.expire(NOV + timedelta(minutes=5))
    assert [r.session_id for r in expired] == ["a", "b"]
    with pytest.raises(EventRejectedError, match="no open reservation") as info:
        o.terminate("a", 10, Dec(1), NOV)
    assert info.value.reason == "no-reservation"
    assert o.initial("c", "s-pre", 10, Dec(10), NOV).units == Dec(10)


def test_allowance_units_are_granted_before_money() -> None:
    o, store = ocs()
    # s-bucket (postpaid, limit 200.00) has 100 free MB; 150 asked: 100 free + 50 paid
    grant = o.initial("a", "s-bucket", 10, Dec(150), NOV)
    assert (grant.units, grant.final_unit) == (Dec(150), False)
    commit = o.terminate("a", 10, Dec(130), NOV)
    # 100 from the allowance, 30 x 0.05 = 1.50
    assert (commit.allowance_units, commit.amount) == (Dec(100), Dec("1.50"))
    assert store.get_counters(["spend|post|2026-11-01"]) == {"spend|post|2026-11-01": Dec("1.50")}


def test_postpaid_grant_is_limited_by_the_credit_limit() -> None:
    o, store = ocs()
    store.apply(ChangeSet(counters={"spend|post|2026-11-01": Dec("199.00")}))
    grant = o.initial("a", "s-post", 10, Dec(100), NOV)  # 1.00 of credit left / 0.05 = 20 MB
    assert (grant.units, grant.final_unit) == (Dec(20), True)


def test_errors_name_the_session() -> None:
    o, _ = ocs()
    with pytest.raises(EventRejectedError, match="unknown subscriber 'nobody'"):
        o.initial("x", "nobody", 10, Dec(1), NOV)
    with pytest.raises(RatingError, match="rating group 99"):
        o.initial("x", "s-pre", 99, Dec(1), NOV)
    o.initial("x", "s-pre", 10, Dec(1), NOV)
    with pytest.raises(EventRejectedError, match="already has a reservation"):
        o.initial("x", "s-pre", 10, Dec(1), NOV)


def test_used_units_beyond_the_grant_are_debt_never_below_the_floor() -> None:
    o, store = ocs()
    grant = o.initial("a", "s-pre", 10, Dec(500), NOV)    # 10.00 / 0.05 = 200 MB
    assert grant.units == Dec(200)
    # the network reports 250 MB used: 250 x 0.05 = 12.50; 10.00 from the balance, 2.50 debt
    commit = o.terminate("a", 10, Dec(250), NOV)
    assert (commit.amount, commit.debt) == (Dec("12.50"), Dec("2.50"))
    assert store.get_counters(["bal|pre", "debt|pre"]) == {"bal|pre": Dec("0.00"),
                                                           "debt|pre": Dec("2.50")}
    # with a debt and no balance, nothing more is granted
    assert o.initial("b", "s-pre", 10, Dec(10), NOV).units == Dec(0)



def test_an_event_the_allowance_covers_is_charged_online_even_below_the_floor() -> None:
    from telcoflow.accounts import (
        AccountProfile,
        DictProfiles,
        SubscriberAllowance,
        SubscriberProfile,
    )
    from telcoflow.events import UsageEvent

    # the overdraft was withdrawn while the balance was at -5.00: it can pay nothing
    acct = AccountProfile("p2", prepaid=True)
    sub = SubscriberProfile("s2", acct, "go", (
        SubscriberAllowance("d100", Dec(100), frozenset({"data"}), None),))
    store = MemoryLedgerStore()
    store.apply(ChangeSet(counters={"bal|p2": Dec("-5.00")}))
    o = OnlineCharging(store, DictProfiles([acct], [sub]), tariffs())
    # 80 MB from the 100 MB allowance: nothing to pay, granted
    covered = o.charge_event(UsageEvent("e1", "s2", "p2", "data", NOV, Dec(80)))
    assert (covered.granted, covered.amount, covered.allowance_units) == (True, Dec(0), Dec(80))
    # 40 MB more: 20 from the allowance, 20 x 0.05 = 1.00 to pay, -5.00 available: refused
    refused = o.charge_event(UsageEvent("e2", "s2", "p2", "data", NOV, Dec(40)))
    assert (refused.granted, refused.amount, refused.available) == (False, Dec("1.00"),
                                                                    Dec("-5.00"))
    assert store.get_counters(["alw|s2|d100|2026-11-01", "bal|p2"]) == {
        "alw|s2|d100|2026-11-01": Dec(80), "bal|p2": Dec("-5.00")}
