"""Hostile events through RealtimeBilling.process: dead letters, never a foreign exception."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as Dec
from typing import Any

import pytest
from billing_world import FEES, NOV, tariffs, world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.events import FeeEvent, LifecycleEvent, PaymentEvent, UsageEvent
from telcoflow.ledger import LedgerStore
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteLedgerStore


def billing(store: LedgerStore | None = None) -> RealtimeBilling:
    return RealtimeBilling(store if store is not None else MemoryLedgerStore(),
                           default_graph(world(), tariffs(), fees=FEES))


def ok(eid: str = "ok", quantity: object = Dec(1)) -> UsageEvent:
    return UsageEvent(eid, "s-post", "post", "data", NOV, quantity)  # type: ignore[arg-type]


HOSTILE: dict[str, Any] = {
    "start-none": UsageEvent("h1", "s-post", "post", "data", None, Dec(1)),  # type: ignore[arg-type]
    "start-text": UsageEvent("h2", "s-post", "post", "data", "2026-11-01", Dec(1)),  # type: ignore[arg-type]
    "list-id": UsageEvent(["x"], "s-post", "post", "data", NOV, Dec(1)),  # type: ignore[arg-type]
    "none-id": UsageEvent(None, "s-post", "post", "data", NOV, Dec(1)),  # type: ignore[arg-type]
    "surrogate": UsageEvent("h5", "s-post\ud800", "post", "data", NOV, Dec(1)),
    "surrogate-id": UsageEvent("h6\udcff", "s-post", "post", "data", NOV, Dec(1)),
    "dict": {"id": "h7", "subscriber": "s-post"},
    "none": None,
    "huge": ok("h9", Dec("1e999999")),
    "forty-digits": ok("h10", Dec("1.234567890123456789012345678901234567890")),
    "no-zone": UsageEvent("h11", "s-post", "post", "data", NOV, Dec(1), zone=""),
    "list-usage-type": UsageEvent("h12", "s-post", "post", ["data"], NOV, Dec(1)),  # type: ignore[arg-type]
    "float-quantity": ok("h13", 1.5),
    "long-id": ok("x" * 10_000),
    "fee-huge": FeeEvent("h15", "s-post", "post", "one_time", NOV, Dec("1e40")),
    "payment-text-amount": PaymentEvent("h16", "post", "payment", NOV, "10"),  # type: ignore[arg-type]
    "lifecycle-int-offer": LifecycleEvent("h17", "s-post", "post", "activate", NOV, offer=5),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_each_hostile_event_is_a_dead_letter_and_the_batch_commits_the_others(
        store_kind: str, tmp_path: Any) -> None:
    store: LedgerStore = (MemoryLedgerStore() if store_kind == "memory"
                          else SQLiteLedgerStore(tmp_path / "l.db"))
    b = billing(store)
    events = [ok("good-1"), *HOSTILE.values(), ok("good-2")]
    result = b.process(events)  # type: ignore[arg-type]
    assert result.submitted == len(HOSTILE) + 2
    assert result.rejected == {"invalid": len(HOSTILE)}
    assert result.accepted == 2
    dead = store.dead_letters()
    assert len(dead) == len(HOSTILE)  # every rejected one has its dead letter
    by_message = " | ".join(d.message for d in dead)
    for expected in ("`start` must be a datetime", "`id` must be text", "valid Unicode text",
                     "expected a UsageEvent, FeeEvent, LifecycleEvent or PaymentEvent (got dict)",
                     "(got NoneType)", "`quantity` must be at most 1E+15",
                     "at most 20 significant digits", "`zone` must not be empty",
                     "`usage_type` must be text", "`quantity` must be a finite Decimal",
                     "`id` must be at most 256 characters", "`amount` must be at most 1E+12",
                     "`amount` must be a finite Decimal", "`offer` must be text"):
        assert expected in by_message, expected
    for d in dead:  # every dead letter is storable text
        for text in (d.event_id, d.message, d.payload):
            text.encode("utf-8")
    # the good events were rated and committed: 2 x 1 MB at 0.05
    assert sum(ln.amount for ln in store.lines() if ln.item_type == "data") == Dec("0.10")


def test_a_bill_run_is_never_poisoned_by_a_huge_quantity() -> None:
    b = billing()
    b.process([ok("big", Dec("1e999999")), ok("fine", Dec(3))])
    amounts = [ln.amount for ln in b.store.lines()]
    assert all(abs(a) < Dec(10) ** 15 for a in amounts)


text = st.text(max_size=12)
decimals = st.one_of(st.decimals(allow_nan=True, allow_infinity=True), st.none(),
                     st.integers(), st.floats(), text)
times = st.one_of(st.datetimes(min_value=datetime(2000, 1, 1)), st.none(), text)
ids = st.one_of(st.sampled_from(["e1", "e2", "e3"]), text, st.none(), st.integers(),
                st.lists(st.integers(), max_size=2))
subs = st.one_of(st.sampled_from(["s-post", "s-pre", "s-emp", "s-ghost", ""]), text)
accounts = st.sampled_from(["post", "pre", "emp", "corp", "nobody", ""])

usage_events = st.builds(UsageEvent, ids, subs, accounts,
                         st.one_of(st.sampled_from(["data", "voice", "sms", "fax"]), text),
                         times, decimals, st.sampled_from(["MB", "s", "msg", "", "parsec"]),
                         st.one_of(st.sampled_from(["home", "eu", ""]), text))
fee_events = st.builds(FeeEvent, ids, subs, accounts,
                       st.sampled_from(["recurring", "one_time", "bogus"]), times, decimals,
                       st.sampled_from(["EUR", "USD", ""]))
payment_events = st.builds(PaymentEvent, ids, accounts, st.sampled_from(["payment", "top_up", "x"]),
                           times, decimals)
lifecycle_events = st.builds(LifecycleEvent, ids, subs, accounts,
                             st.sampled_from(["activate", "terminate", "open_period", "fly"]),
                             times, st.one_of(st.sampled_from(["5g-basic", ""]), text))
anything = st.one_of(usage_events, fee_events, payment_events, lifecycle_events, st.none(),
                     st.dictionaries(text, text, max_size=2), st.integers(), text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
# 150 runs of 2-3 batches of 35-60 events: at least 10,500 generated events per test run
@given(batches=st.lists(st.lists(anything, min_size=35, max_size=60), min_size=2, max_size=3))
def test_fuzz_events_never_raise_and_all_are_accounted_for(batches: list[list[Any]]) -> None:
    b = billing()
    submitted = accepted = rejected = 0
    for batch in batches:
        result = b.process(batch)
        submitted += result.submitted
        accepted += result.accepted
        rejected += sum(result.rejected.values())
    assert accepted + rejected == submitted == sum(len(x) for x in batches)
    dead = b.store.dead_letters()  # one per event id and payload: replays share one
    assert len(dead) <= rejected
    assert bool(dead) == bool(rejected)
    assert {d.reason for d in dead} <= {"invalid", "unknown-subscriber", "unknown-account",
                                        "account-mismatch", "conflict", "currency-mismatch",
                                        "unrateable", "unit-mismatch"}
