"""Recurring fees per cycle, periods, and the synthetic traffic generator."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal as Dec

from billing_world import FEES, tariffs, world

from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.billing.recurring import prorate
from telcoflow.demo.generator import generate_events, generate_population
from telcoflow.periods import cycle_bounds, next_period, period_of
from telcoflow.stores.memory import MemoryLedgerStore


def test_periods_follow_the_bill_cycle_day() -> None:
    assert period_of(date(2026, 11, 16), 1) == "2026-11-01"
    assert period_of(date(2026, 11, 3), 15) == "2026-10-15"
    assert cycle_bounds(date(2026, 2, 10), 31) == (date(2026, 1, 31), date(2026, 2, 28))
    assert next_period("2026-12-15", 15) == "2027-01-15"


def test_prorate_rounds_to_cents() -> None:
    # 10.00 x 16 days (16..31 Dec) / 31 = 5.16129... -> 5.16
    assert prorate(Dec("10.00"), date(2026, 12, 16), 1) == Dec("5.16")
    assert prorate(Dec("30.00"), date(2026, 11, 1), 1) == Dec("30.00")


def test_cycle_fees_post_once_per_cycle() -> None:
    profiles = world()
    fees = FEES.cycle_fees(profiles.subscribers(), date(2026, 11, 1))
    assert {f.id for f in fees} >= {"rc|s-post|2026-11-01", "rc|s-emp|2026-11-01"}
    billing = RealtimeBilling(MemoryLedgerStore(), default_graph(profiles, tariffs()))
    billing.process(fees)
    again = billing.process(FEES.cycle_fees(profiles.subscribers(), date(2026, 11, 20)))
    assert again.duplicates == len(fees)


def test_generator_is_deterministic_and_mixed() -> None:
    pop = generate_population(60, seed=3)
    again = generate_population(60, seed=3)
    assert [s.id for s in pop.subscribers] == [s.id for s in again.subscribers]
    events = list(generate_events(pop, events=3000, seed=5))
    assert events == list(generate_events(again, events=3000, seed=5))
    assert len(events) == 3000
    assert len({e.id for e in events}) == 3000
    kinds = Counter(pop.kinds.values())
    assert {"prepaid", "postpaid", "family", "corporate", "employee"} <= set(kinds)
    assert len(pop.accounts) == 60
    types = Counter(type(e).__name__ for e in events)
    assert types["UsageEvent"] > 2000
    assert types["FeeEvent"] > 0
    assert types["PaymentEvent"] > 0


def test_generated_month_rates_without_rejections() -> None:
    pop = generate_population(40, seed=1)
    billing = RealtimeBilling(MemoryLedgerStore(),
                              default_graph(pop.profiles, pop.rater, fees=pop.fees))
    rated: list[Dec] = []
    totals = billing.stream(generate_events(pop, events=4000, seed=2), batch_size=500,
                            on_batch=lambda r: rated.extend(x.total for x in r.rated))
    assert (totals.submitted, totals.rejected) == (4000, 0)
    assert sum(billing.account_totals().values(), Dec(0)) == sum(rated, Dec(0))
