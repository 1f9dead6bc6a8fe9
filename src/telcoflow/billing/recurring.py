"""Recurring fees: posted per cycle, prorated by day on activation, offer change, termination.

The fee of a cycle is posted in advance at the cycle start (:meth:`RecurringFees.cycle_fees`
builds the fee events; their ids ``rc|<subscriber>|<period>`` make a second posting a
no-op). Lifecycle events inside a cycle post the prorated difference for the days left in
the cycle, counted from the event's day to the next bill cycle day:

- activate: + fee x days left / days in cycle;
- change offer: - old fee x days left / days + new fee x days left / days;
- terminate: - fee x days left / days (the unused days are credited);
- add / remove device: +/- the per-device fee, prorated the same way.

Prorated amounts are rounded to the currency's minor unit with the fee's rounding policy.

Activation on 16 November of a 30.00 offer, bill cycle day 1: 15 days left of 30, 15.00.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from telcoflow.accounts import SubscriberProfile
from telcoflow.errors import RatingError
from telcoflow.events import Charge, FeeEvent, LifecycleEvent
from telcoflow.money import Money, RoundingPolicy
from telcoflow.periods import cycle_bounds, cycle_start
from telcoflow.rating import proration

__all__ = ["RecurringFees", "open_period_events", "prorate"]

_ZERO = Decimal(0)
_ONE_DAY = timedelta(days=1)


def prorate(fee: Decimal, day: date, bill_cycle_day: int, *, currency: str = "EUR",
            rounding: RoundingPolicy = RoundingPolicy.HALF_UP) -> Decimal:
    """``fee`` for the days from ``day`` (included) to the end of its cycle, rounded.

    Uses :func:`telcoflow.rating.proration.prorate` (days held / days in the cycle).

    >>> prorate(Decimal("30.00"), date(2026, 11, 16), 1)
    Decimal('15.00')
    """
    _, end = cycle_bounds(day, bill_cycle_day)
    return proration.prorate(Money(fee, currency), held_from=day, held_to=end - _ONE_DAY,
                             cycle_day=bill_cycle_day, rounding=rounding).amount


class RecurringFees:
    """The monthly fee of each offer (and per extra device) and the charges they cause."""

    def __init__(self, monthly: Mapping[str, Decimal], *, device_fee: Decimal = _ZERO,
                 rounding: RoundingPolicy = RoundingPolicy.HALF_UP) -> None:
        self.monthly = dict(monthly)
        self.device_fee = device_fee
        self.rounding = rounding

    def fee(self, offer: str, event_id: str = "") -> Decimal:
        """The monthly fee of ``offer``."""
        try:
            return self.monthly[offer]
        except KeyError:
            raise RatingError(
                f"no recurring fee for offer {offer!r} (event {event_id}); known offers: "
                f"{sorted(self.monthly)}"
            ) from None

    def charges(self, event: LifecycleEvent, subscriber: SubscriberProfile) -> list[Charge]:
        """The prorated charges a lifecycle event causes (empty for suspend / resume)."""
        account = subscriber.account
        day = event.start.date()

        def part(fee: Decimal) -> Decimal:
            return prorate(fee, day, account.bill_cycle_day, currency=account.currency,
                           rounding=self.rounding)

        action = event.action
        one = Decimal(1)
        if action == "activate":
            return [Charge("recurring", part(self.fee(event.offer or subscriber.offer,
                                                      event.id)), one)]
        if action == "change_offer":
            old = self.fee(event.previous_offer or subscriber.offer, event.id)
            new = self.fee(event.offer, event.id)
            return [Charge("recurring", part(new) - part(old), one)]
        if action == "terminate":
            return [Charge("recurring", -part(self.fee(event.previous_offer or event.offer
                                                       or subscriber.offer, event.id)), -one)]
        if action == "add_device" and self.device_fee:
            return [Charge("device", part(self.device_fee), one)]
        if action == "remove_device" and self.device_fee:
            return [Charge("device", -part(self.device_fee), -one)]
        return []

    def cycle_fees(self, subscribers: Iterable[SubscriberProfile], day: date) -> list[FeeEvent]:
        """Full recurring fee events for the cycle of each subscriber containing ``day``.

        Event ids are ``rc|<subscriber>|<period>``: posting a cycle twice changes nothing.
        """
        out = []
        for sub in subscribers:
            if not sub.offer:
                continue
            start, _ = cycle_bounds(day, sub.account.bill_cycle_day)
            out.append(FeeEvent(
                id=f"rc|{sub.id}|{start.isoformat()}",
                subscriber=sub.id,
                account=sub.account.id,
                fee_type="recurring",
                start=datetime.combine(start, time()),
                amount=self.fee(sub.offer),
                currency=sub.account.currency,
                description=f"{sub.offer} monthly fee",
            ))
        return out


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
