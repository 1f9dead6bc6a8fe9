"""Day-based proration of recurring fees within bill cycles.

* the bill cycle containing a day comes from :func:`telcoflow.periods.cycle_bounds` (its end
  is exclusive; in a short month a cycle day of 29-31 falls on its last day).
* :func:`prorate`: the share of one period's fee for the days held inside one cycle:
  ``fee x days held / days in the cycle``, exact (38 significant digits when the quotient has
  no finite decimal expansion), rounded only if a policy is given.
* :func:`recurring_charges`: every (prorated) charge of a fee held over a span of days,
  cycle by cycle, with the day it is charged: the cycle's first day ``in_advance``, the day
  after its end ``in_arrears``.

Days are whole calendar days, both ends inclusive (held 16 to 30 November = 15 days).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from telcoflow.errors import RatingError
from telcoflow.money import MONEY_CONTEXT, Money, RoundingPolicy
from telcoflow.periods import ONE_DAY, cycle_bounds

__all__ = [
    "Period",
    "ProratedCharge",
    "Timing",
    "prorate",
    "recurring_charges",
]

Timing = Literal["in_advance", "in_arrears"]
Period = Literal["month", "week", "day"]

_CTX = MONEY_CONTEXT








def _period_days(period: Period, cycle_start: date, cycle_end: date) -> int:
    if period == "month":
        return (cycle_end - cycle_start).days + 1
    return 7 if period == "week" else 1


def prorate(
    fee: Money,
    *,
    held_from: date,
    held_to: date,
    cycle_day: int,
    period: Period = "month",
    rounding: RoundingPolicy | None = None,
) -> Money:
    """The part of ``fee`` (for one full ``period``) due for ``held_from``..``held_to``.

    The held days must lie in one bill cycle. Monthly fees are prorated over the days of
    that cycle; weekly fees over 7 days; daily fees are charged per day held. The result is
    exact unless ``rounding`` is given (then rounded to the currency's minor unit).

    >>> str(prorate(Money("30.00", "EUR"), held_from=date(2026, 11, 16),
    ...             held_to=date(2026, 11, 30), cycle_day=1))
    '15.00 EUR'
    """
    if held_to < held_from:
        raise RatingError(f"held_to ({held_to}) is before held_from ({held_from})")
    start, end = cycle_bounds(held_from, cycle_day)
    end -= ONE_DAY  # the cycle's last day
    if held_to > end:
        raise RatingError(
            f"held period {held_from}..{held_to} spans more than the bill cycle {start}..{end} "
            "(use recurring_charges for several cycles)"
        )
    held = (held_to - held_from).days + 1
    total = _period_days(period, start, end)
    with decimal.localcontext(_CTX):
        amount = fee.amount * Decimal(held)
        if total != 1:
            amount = amount / Decimal(total)
    result = Money(amount, fee.currency)
    return result.rounded(rounding) if rounding is not None else result


@dataclass(frozen=True, slots=True)
class ProratedCharge:
    """One cycle's charge of a recurring fee: the days held, the amount and when it is due."""

    cycle_start: date
    cycle_end: date
    held_from: date
    held_to: date
    days_held: int
    days_in_cycle: int
    amount: Money
    charge_on: date

    @property
    def is_full(self) -> bool:
        """Whether the whole cycle was held (no proration)."""
        return self.days_held == self.days_in_cycle


def recurring_charges(
    fee: Money,
    *,
    held_from: date,
    held_to: date,
    cycle_day: int,
    timing: Timing = "in_advance",
    period: Period = "month",
    prorate_part_cycles: bool = True,
    rounding: RoundingPolicy | None = None,
) -> list[ProratedCharge]:
    """The charges of a fee held from ``held_from`` to ``held_to`` (inclusive), per cycle.

    Full cycles cost the full fee (monthly) or ``fee x days / 7`` (weekly) or ``fee x days``
    (daily); part cycles are prorated by day, or charged in full when
    ``prorate_part_cycles`` is false. ``in_advance`` charges are due on the cycle's first
    day (or on ``held_from`` for a cycle entered mid-way); ``in_arrears`` charges the day
    after the cycle ends.
    """
    if held_to < held_from:
        raise RatingError(f"held_to ({held_to}) is before held_from ({held_from})")
    out: list[ProratedCharge] = []
    day = held_from
    while day <= held_to:
        start, end = cycle_bounds(day, cycle_day)
        end -= ONE_DAY  # the cycle's last day
        part_to = min(end, held_to)
        days = (part_to - day).days + 1
        cycle_days = (end - start).days + 1
        if prorate_part_cycles or period != "month":
            amount = prorate(fee, held_from=day, held_to=part_to, cycle_day=cycle_day,
                             period=period, rounding=rounding)
        else:
            amount = fee.rounded(rounding) if rounding is not None else fee
        charge_on = max(start, day) if timing == "in_advance" else end + ONE_DAY
        out.append(ProratedCharge(start, end, day, part_to, days, cycle_days, amount, charge_on))
        day = part_to + ONE_DAY
    return out
