"""Bill cycles: the period a day belongs to, given an account's bill cycle day.

A period is named by its first day (``"2026-11-01"``). A bill cycle day past the end of a
month is clamped to the month's last day (day 31 starts February's cycle on the 28th/29th).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time

from telcoflow.billing.profiles import SubscriberProfile
from telcoflow.events import LifecycleEvent

__all__ = ["PeriodResolver", "cycle_bounds", "cycle_start", "next_period", "open_period_events",
           "period_of"]

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


def open_period_events(subscribers: Iterable[SubscriberProfile],
                       day: date) -> Iterator[LifecycleEvent]:
    """One ``open_period`` event per subscriber for the cycle holding ``day``.

    Each is dated at the start of the subscriber's cycle and has the id
    ``op|<subscriber>|<period>``, so sending it twice is a no-op. The ``rate`` step settles
    with it what the period owes without usage (a first tier's flat fee, a tariff's
    ``minimum_charge``); send these with the cycle's recurring fees.
    """
    for sub in subscribers:
        account = sub.account
        start = cycle_start(day, account.bill_cycle_day)
        yield LifecycleEvent(f"op|{sub.id}|{start.isoformat()}", sub.id, account.id,
                             "open_period", datetime.combine(start, time()))
