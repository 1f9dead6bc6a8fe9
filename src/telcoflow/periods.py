"""Bill cycles: the one home of periods (the cycle a day belongs to, given a bill cycle day).

A period is named by its first day (``"2026-11-01"``). A bill cycle day past the end of a
month is clamped to the month's last day (day 31 starts February's cycle on the 28th/29th).

One end convention: :func:`cycle_bounds` gives ``(first day, first day of the next cycle)``,
the end *exclusive*; a cycle's last day is ``end - ONE_DAY``.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from telcoflow.errors import RatingError

__all__ = ["ONE_DAY", "PeriodResolver", "check_cycle_day", "cycle_bounds", "cycle_start",
           "next_period", "period_of"]

#: One calendar day (a cycle's last day is ``cycle_bounds(...)[1] - ONE_DAY``).
ONE_DAY = timedelta(days=1)


def check_cycle_day(bill_cycle_day: int) -> None:
    """Raise :class:`~telcoflow.errors.RatingError` unless ``bill_cycle_day`` is 1..31."""
    if not 1 <= bill_cycle_day <= 31:
        raise RatingError(f"bill cycle day must be 1..31 (got {bill_cycle_day})")

def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))

def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1

def cycle_start(day: date, bill_cycle_day: int) -> date:
    """The first day of the cycle containing ``day``.

    >>> cycle_start(date(2026, 11, 16), 1)
    datetime.date(2026, 11, 1)
    >>> cycle_start(date(2026, 11, 3), 15)
    datetime.date(2026, 10, 15)
    """
    check_cycle_day(bill_cycle_day)
    candidate = _clamped(day.year, day.month, bill_cycle_day)
    if day >= candidate:
        return candidate
    year, month = _add_months(day.year, day.month, -1)
    return _clamped(year, month, bill_cycle_day)

def cycle_bounds(day: date, bill_cycle_day: int) -> tuple[date, date]:
    """``(first day, first day of the next cycle)`` of the cycle containing ``day``."""
    start = cycle_start(day, bill_cycle_day)
    year, month = _add_months(start.year, start.month, 1)
    return start, _clamped(year, month, bill_cycle_day)

def period_of(day: date, bill_cycle_day: int) -> str:
    """The name (first day, ISO) of the period containing ``day``."""
    return cycle_start(day, bill_cycle_day).isoformat()

def next_period(period: str, bill_cycle_day: int) -> str:
    """The period that follows ``period``."""
    _, end = cycle_bounds(date.fromisoformat(period), bill_cycle_day)
    return end.isoformat()

class PeriodResolver:
    """A cached :func:`period_of` for the hot path (one dict lookup per event).

    ``table(bill_cycle_day)`` is the cache for one bill cycle day (day ordinal -> period),
    for loops that look up many days; :meth:`resolve` fills it on a miss.
    """

    __slots__ = ("_tables",)

    def __init__(self) -> None:
        self._tables: dict[int, dict[int, str]] = {}

    def table(self, bill_cycle_day: int) -> dict[int, str]:
        """The cache ``{day ordinal: period}`` of ``bill_cycle_day`` (read it, don't write)."""
        found = self._tables.get(bill_cycle_day)
        if found is None:
            found = self._tables[bill_cycle_day] = {}
        return found

    def resolve(self, ordinal: int, bill_cycle_day: int) -> str:
        """The period containing the day ``ordinal`` (``date.toordinal()``), cached."""
        table = self.table(bill_cycle_day)
        found = table.get(ordinal)
        if found is None:
            found = table[ordinal] = period_of(date.fromordinal(ordinal), bill_cycle_day)
        return found

    def __call__(self, day: date, bill_cycle_day: int) -> str:
        """The period containing ``day`` for ``bill_cycle_day``."""
        ordinal = day.toordinal()
        found = self.table(bill_cycle_day).get(ordinal)
        return found if found is not None else self.resolve(ordinal, bill_cycle_day)
