"""Time-band and calendar helpers of the expression language."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from telcoflow.errors import MoneyError
from telcoflow.rules.expressions import EvaluationError, compile_expression
from telcoflow.rules.functions import in_band, parse_band, time_in


def ev(source: str, **ctx: object) -> object:
    return compile_expression(source)(ctx)


# 2026-11-27 is a Friday; 2026-11-28 a Saturday; 2026-11-30 a Monday.
@pytest.mark.parametrize(("ts", "expected"), [
    ("2026-11-27T08:00:00", True),    # start included
    ("2026-11-27T19:59:59", True),
    ("2026-11-27T20:00:00", False),   # end excluded
    ("2026-11-27T07:59:59", False),
    ("2026-11-28T10:00:00", False),   # Saturday
])
def test_weekday_peak_band(ts: str, expected: bool) -> None:
    assert in_band(ts, "mon-fri 08:00-20:00") is expected


@pytest.mark.parametrize(("ts", "expected"), [
    ("2026-11-27T23:00:00", True),    # Friday night, in the window that starts Friday
    ("2026-11-28T05:59:00", True),    # early Saturday: still Friday's night window
    ("2026-11-28T06:00:00", False),
    ("2026-11-27T05:00:00", False),   # early Friday belongs to Thursday's window: not listed
])
def test_band_wrapping_midnight_belongs_to_its_start_day(ts: str, expected: bool) -> None:
    assert in_band(ts, "fri 22:00-06:00") is expected


def test_band_with_several_windows_and_day_wrap() -> None:
    spec = "mon-fri 08:00-20:00; sat,sun 10:00-14:00"
    assert in_band("2026-11-29T11:00:00", spec)       # Sunday 11:00
    assert not in_band("2026-11-29T15:00:00", spec)
    assert parse_band("sat-mon")[0][0] == frozenset({5, 6, 0})  # wraps over the week end
    assert in_band("2026-11-30T03:00:00", "daily")


def test_bad_band_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown day 'funday'"):
        parse_band("funday 08:00-10:00")
    with pytest.raises(EvaluationError, match="unknown day"):
        ev('in_band(t, "xyz")', t="2026-11-27T10:00:00")


def test_time_in_and_clock_helpers() -> None:
    assert time_in("2026-11-27T23:30:00", "22:00", "06:00")
    assert not time_in("2026-11-27T12:00:00", "22:00", "06:00")
    assert ev("hour(t)", t="2026-11-27T23:30:00+02:00") == 23   # the event's own clock
    assert ev("weekday(t)", t="2026-11-27T10:00:00") == "fri"
    assert ev("is_weekend(t)", t="2026-11-28T10:00:00") is True
    assert ev("date(t)", t="2026-11-27T10:00:00Z") == "2026-11-27"
    assert ev("month(t) * 100 + day(t)", t="2026-11-27") == 1127


def test_calendar_helpers() -> None:
    holidays = ["2026-12-25", "2027-01-01"]
    assert ev("is_holiday(t, h)", t="2026-12-25T10:00:00", h=holidays) is True
    assert ev("is_holiday(t, h)", t="2026-12-24T10:00:00", h=holidays) is False
    assert ev("days_between(a, b)", a="2026-11-27", b="2026-12-25") == 28
    start = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
    # 90 s = 1.5 minutes
    assert ev("minutes_between(a, b)", a=start, b=start + timedelta(seconds=90)) == \
        Decimal("1.5")


def test_number_helpers() -> None:
    assert ev("percent(40, 50)") == Decimal(80)                 # 40 / 50 = 80 %
    assert ev('round(2.345, 2, "half-up")') == Decimal("2.35")
    assert ev("round(2.345, 2)") == Decimal("2.34")             # half-even by default
    assert ev('dec("1.10") + 1') == Decimal("2.10")
    assert ev("coalesce(null, 0, 5)") == 0
    assert ev("min(3, 1, 2) + max([4, 9])") == 10
    assert ev("sum([1.5, 2.5])") == Decimal("4.0")
    with pytest.raises(MoneyError, match="not a float"):  # telcoflow errors pass through
        ev("dec(x)", x=1.5)
