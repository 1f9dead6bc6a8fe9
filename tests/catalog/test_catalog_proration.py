"""Day-based proration of recurring fees within bill cycles."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from telcoflow.errors import RatingError
from telcoflow.money import Money, RoundingPolicy
from telcoflow.periods import cycle_bounds
from telcoflow.rating.proration import prorate, recurring_charges

EUR = "EUR"


def test_worked_example_16_to_30_november() -> None:
    # cycle day 1: November cycle has 30 days; 16..30 held = 15 days; 30.00 x 15/30 = 15.00
    amount = prorate(Money("30.00", EUR), held_from=date(2026, 11, 16),
                     held_to=date(2026, 11, 30), cycle_day=1)
    assert amount == Money("15.00", EUR)


def test_cycle_bounds_with_cycle_day() -> None:
    # one convention (telcoflow.periods): the end is the next cycle's first day, exclusive
    assert cycle_bounds(date(2026, 11, 20), 1) == (date(2026, 11, 1), date(2026, 12, 1))
    assert cycle_bounds(date(2026, 11, 20), 15) == (date(2026, 11, 15), date(2026, 12, 15))
    assert cycle_bounds(date(2026, 11, 3), 15) == (date(2026, 10, 15), date(2026, 11, 15))
    # over the new year
    assert cycle_bounds(date(2027, 1, 5), 10) == (date(2026, 12, 10), date(2027, 1, 10))
    # cycle day 31 in a 28-day February starts on its last day
    assert cycle_bounds(date(2027, 2, 28), 31) == (date(2027, 2, 28), date(2027, 3, 31))
    assert cycle_bounds(date(2027, 2, 27), 31) == (date(2027, 1, 31), date(2027, 2, 28))
    with pytest.raises(RatingError, match=r"1\.\.31"):
        cycle_bounds(date(2026, 1, 1), 0)


def test_exact_when_days_do_not_divide() -> None:
    # December has 31 days: 31.00 x 10/31 = 10 exactly; 10.00 x 10/31 = 3.2258...
    assert prorate(Money("31.00", EUR), held_from=date(2026, 12, 1), held_to=date(2026, 12, 10),
                   cycle_day=1) == Money("10", EUR)
    third = prorate(Money("10.00", EUR), held_from=date(2026, 12, 1), held_to=date(2026, 12, 10),
                    cycle_day=1)
    # 100/31 = 3.2258064516129032258064516129032258064|516... kept to 38 significant digits
    assert third.amount == Decimal("3.2258064516129032258064516129032258065")
    assert third.rounded(RoundingPolicy.HALF_UP) == Money("3.23", EUR)
    rounded = prorate(Money("10.00", EUR), held_from=date(2026, 12, 1),
                      held_to=date(2026, 12, 10), cycle_day=1, rounding=RoundingPolicy.HALF_UP)
    assert rounded == Money("3.23", EUR)


def test_week_and_day_periods() -> None:
    # weekly 7.00 for 3 days = 3.00 ; daily 0.50 for 4 days = 2.00
    assert prorate(Money("7.00", EUR), held_from=date(2026, 11, 2), held_to=date(2026, 11, 4),
                   cycle_day=1, period="week") == Money("3.00", EUR)
    assert prorate(Money("0.50", EUR), held_from=date(2026, 11, 2), held_to=date(2026, 11, 5),
                   cycle_day=1, period="day") == Money("2.00", EUR)


def test_prorate_refuses_spans_across_cycles_and_reversed_dates() -> None:
    with pytest.raises(RatingError, match="spans more than the bill cycle"):
        prorate(Money("30", EUR), held_from=date(2026, 11, 20), held_to=date(2026, 12, 5),
                cycle_day=1)
    with pytest.raises(RatingError, match="before held_from"):
        prorate(Money("30", EUR), held_from=date(2026, 11, 20), held_to=date(2026, 11, 5),
                cycle_day=1)


def test_recurring_charges_in_advance_and_in_arrears() -> None:
    fee = Money("30.00", EUR)
    charges = recurring_charges(fee, held_from=date(2026, 11, 16), held_to=date(2027, 1, 10),
                                cycle_day=1, timing="in_advance")
    # Nov 16-30: 15/30 x 30 = 15.00 ; December in full 30.00 ; Jan 1-10: 10/31 x 30 = 9.677...
    assert [c.amount.rounded(RoundingPolicy.HALF_UP) for c in charges] == [
        Money("15.00", EUR), Money("30.00", EUR), Money("9.68", EUR)]
    assert [c.charge_on for c in charges] == [
        date(2026, 11, 16), date(2026, 12, 1), date(2027, 1, 1)]
    assert [c.is_full for c in charges] == [False, True, False]
    arrears = recurring_charges(fee, held_from=date(2026, 11, 16), held_to=date(2026, 12, 31),
                                cycle_day=1, timing="in_arrears")
    assert [c.charge_on for c in arrears] == [date(2026, 12, 1), date(2027, 1, 1)]
    flat = recurring_charges(fee, held_from=date(2026, 11, 16), held_to=date(2026, 11, 30),
                             cycle_day=1, prorate_part_cycles=False)
    assert flat[0].amount == fee
