"""``open_period`` events: what starts each subscriber's period in the real-time graph.

The periods themselves (cycle bounds, period names, the hot path's resolver) live in
:mod:`telcoflow.periods`; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time

from telcoflow.billing.profiles import SubscriberProfile
from telcoflow.events import LifecycleEvent
from telcoflow.periods import PeriodResolver, cycle_bounds, cycle_start, next_period, period_of

__all__ = ["PeriodResolver", "cycle_bounds", "cycle_start", "next_period", "open_period_events",
           "period_of"]


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
