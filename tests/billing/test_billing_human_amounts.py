"""Rejection messages show amounts as people write them, never ``Decimal('-5.00')`` (#18)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as Dec
from typing import Any

import pytest
from billing_world import NOV, tariffs, world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telcoflow.accounts import AccountProfile
from telcoflow.billing.charging import OnlineCharging
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.errors import DefinitionError, TelcoflowError
from telcoflow.events import FeeEvent, LifecycleEvent, PaymentEvent, UsageEvent
from telcoflow.money import shown
from telcoflow.stores.memory import MemoryLedgerStore

#: Decimals of every kind, placed where a hostile producer could put them
odd_decimals = st.one_of(st.decimals(allow_nan=True, allow_infinity=True),
                         st.sampled_from([Dec("-5.00"), Dec("NaN"), Dec("-Infinity"),
                                          Dec("sNaN"), Dec("1E+999")]))
anything = st.one_of(odd_decimals, st.text(max_size=5), st.none(), st.integers())


def _billing() -> RealtimeBilling:
    return RealtimeBilling(graph=default_graph(world(), tariffs()), store=MemoryLedgerStore())


def test_the_issue_example_a_negative_payment_reads_minus_five() -> None:
    b = _billing()
    result = b.process([PaymentEvent("p1", "post", "payment", NOV, Dec("-5.00"))])
    assert result.rejected == {"invalid": 1}
    (dead,) = b.store.dead_letters()
    assert dead.message == "`amount` must be a Decimal > 0 (got -5.00 in event p1)"


@pytest.mark.parametrize(("event", "expected"), [
    (UsageEvent("u1", "s-post", "post", "data", NOV, Dec("NaN")),
     "`quantity` must be a finite Decimal (got NaN in event u1)"),
    (UsageEvent(Dec("7"), "s-post", "post", "data", NOV, Dec(1)),  # type: ignore[arg-type]
     "`id` must be text (got Decimal 7 in event 7)"),
    (UsageEvent("u3", "s-post", "post", "data", Dec("1.5"), Dec(1)),  # type: ignore[arg-type]
     "`start` must be a datetime (got 1.5 in event u3)"),
    (UsageEvent("u4", "s-post", "post", "data", NOV, Dec(1),
                rating_group=Dec("10")),  # type: ignore[arg-type]
     "`rating_group` must be an integer (got 10 in event u4)"),
    (FeeEvent("f1", "s-post", "post", "one_time", NOV, Dec("-Infinity")),
     "`amount` must be a finite Decimal (got -Infinity in event f1)"),
])
def test_each_field_shows_its_decimal_plainly(event: Any, expected: str) -> None:
    b = _billing()
    b.process([event])
    (dead,) = b.store.dead_letters()
    assert dead.message == expected


def _field_events(value: Any) -> list[Any]:
    """One event per field that could hold ``value``."""
    return [
        UsageEvent("u", "s-post", "post", "data", NOV, value),
        UsageEvent(value, "s-post", "post", "data", NOV, Dec(1)),
        UsageEvent("u", value, "post", "data", NOV, Dec(1)),
        UsageEvent("u", "s-post", "post", "data", value, Dec(1)),
        UsageEvent("u", "s-post", "post", value, NOV, Dec(1)),
        UsageEvent("u", "s-post", "post", "data", NOV, Dec(1), zone=value),
        UsageEvent("u", "s-post", "post", "data", NOV, Dec(1), rating_group=value),
        FeeEvent("f", "s-post", "post", "one_time", NOV, value),
        FeeEvent("f", "s-post", "post", value, NOV, Dec(1)),
        PaymentEvent("p", "post", "payment", NOV, value),
        PaymentEvent("p", "post", value, NOV, Dec(1)),
        LifecycleEvent("l", "s-post", "post", value, NOV),
        LifecycleEvent("l", "s-post", "post", "activate", NOV, offer=value),
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=anything)
def test_no_rejection_of_a_hostile_event_shows_a_decimal_repr(value: Any) -> None:
    b = _billing()
    events = _field_events(value)
    result = b.process(events)
    assert result.submitted == len(events)
    for dead in b.store.dead_letters():
        assert "Decimal(" not in dead.message, dead.message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=anything)
def test_no_online_charging_refusal_shows_a_decimal_repr(value: Any) -> None:
    online = OnlineCharging(MemoryLedgerStore(), world(), tariffs())
    now = datetime(2026, 11, 10, 12, 0)
    calls = [
        lambda: online.initial("sess", "s-pre", 10, value, now),
        lambda: online.initial(value, "s-pre", 10, Dec(1), now),
        lambda: online.initial("sess", "s-pre", value, Dec(1), now),
        lambda: online.initial("sess", "s-pre", 10, Dec(1), value),
        lambda: online.charge_event(UsageEvent("ev", "s-pre", "pre", "data", now, value)),
    ]
    messages = []
    for call in calls:
        try:
            call()
        except TelcoflowError as exc:  # refusals and rating errors alike
            messages.append(str(exc))
    assert messages  # at least the hostile value itself is refused somewhere
    assert not [m for m in messages if "Decimal(" in m], messages


def test_a_negative_overdraft_limit_reads_plainly() -> None:
    with pytest.raises(DefinitionError) as info:
        AccountProfile("a1", prepaid=True, overdraft_limit=Dec("-5.00"))
    assert "(got -5.00)" in str(info.value)
    assert "Decimal(" not in str(info.value)


def test_shown_writes_decimals_as_people_do_and_anything_else_as_its_repr() -> None:
    assert shown(Dec("-5.00")) == "-5.00"
    assert shown(Dec("NaN")) == "NaN"
    assert shown("5") == "'5'"
    assert shown(None) == "None"
