"""Online charging in 3GPP credit-control terms (Diameter Gy CCR-I/U/T, 5G Nchf).

A session *reserves* units per rating group (:meth:`OnlineCharging.initial`); the grant is
limited by the subscriber's free allowance units and by what the account can pay (prepaid:
its balance; postpaid: its credit limit minus its spend), each less what other open
reservations already hold. A grant smaller than asked carries a **final-unit indication**.
:meth:`OnlineCharging.update` commits the units used so far and reserves again;
:meth:`OnlineCharging.terminate` commits the last units used and releases the rest.
Reservations expire after ``validity``: :meth:`OnlineCharging.expire` releases them.

Commits and event charges run through the real-time graph (by default
:func:`~telcoflow.billing.realtime.default_graph`; pass the host's own): allowances, period
pricing (tiers count the period's usage, online and offline alike), discounts, tax, splits
and credit control write what the offline path writes. A commit is the usage event
``occ|<session>|<rg>|<n>``, claimed in the transaction that posts it, so a retried commit is
a no-op. A prepaid balance is spent down to its floor (:mod:`telcoflow.billing.prepaid`:
zero, or minus the account's overdraft limit); units used beyond a grant that the balance
cannot pay are debt (``Commit.debt``), notified. Grants are priced the same way (the period's
tiers from its usage so far, tax included). :meth:`OnlineCharging.charge_event` charges a
whole event at once or refuses it (immediate event charging): its transaction is committed
only when the account can pay.

Reservations themselves are held in memory (they are short-lived; after a restart the
network re-asks): only committed units are durable.

Prepaid balance 10.00 at 0.05 per MB, a session asks 500 MB: 200 MB are granted with a
final-unit indication; 150 MB used and committed leave 2.50.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from telcoflow.accounts import AccountProfile, ProfileCache, SubscriberProfile
from telcoflow.billing.batch import Batch
from telcoflow.billing.graph import GraphBuilder, ProcessGraph
from telcoflow.billing.realtime import default_graph
from telcoflow.billing.steps import MAX_QUANTITY, number_problem
from telcoflow.billing.transaction import LedgerTransaction
from telcoflow.errors import EventRejectedError, RatingError
from telcoflow.events import UsageEvent
from telcoflow.ledger import (
    LedgerStore,
    allowance_key,
    balance_key,
    debt_key,
    period_usage_keys,
    spend_key,
    storable_id,
)
from telcoflow.money import in_money_context, shown
from telcoflow.periods import PeriodResolver
from telcoflow.privacy import DEFAULT_MASKING, MaskingPolicy
from telcoflow.rating.rater import Rater, Tariff

__all__ = ["Commit", "EventCharge", "Grant", "OnlineCharging", "Reservation"]

_ZERO = Decimal(0)
_ONE = Decimal(1)


def _from_allowances(sub: SubscriberProfile, usage_type: str, zone: str, period: str,
                     wanted: Decimal,
                     used_of: Callable[[str], Decimal]) -> Iterator[tuple[str, Decimal]]:
    """Walk ``sub``'s allowances by priority: ``(counter key, units taken)`` until ``wanted``
    units are covered; ``used_of(key)`` says how much of an allowance is already gone."""
    left = wanted
    for alw in sub.allowances:
        if left <= 0:
            return
        if not alw.covers(usage_type, zone):
            continue
        key = allowance_key(sub.id, alw.name, period)
        free = alw.units - used_of(key)
        if free > 0:
            take = min(free, left)
            left -= take
            yield key, take


@dataclass(frozen=True, slots=True)
class Grant:
    """Units granted for one rating group of a session.

    ``final_unit`` is the 3GPP final-unit indication: these are the last units the
    subscriber can get (the grant was limited by balance, credit or allowance).
    """

    session_id: str
    rating_group: int
    requested: Decimal
    units: Decimal
    final_unit: bool
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Commit:
    """Units committed for one rating group: from allowances, charged, and the amount."""

    session_id: str
    rating_group: int
    used: Decimal
    allowance_units: Decimal
    amount: Decimal
    released: Decimal
    #: the part of ``amount`` beyond the prepaid balance's floor (used units the grant did
    #: not cover), posted as debt
    debt: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class EventCharge:
    """The answer to an immediate event charge (3GPP IEC, direct debiting).

    ``granted`` is false when the account cannot pay the event's ``amount`` (3GPP result
    ``CREDIT_LIMIT_REACHED``): nothing was charged. ``available`` is what the account could
    still pay (``None``: no limit).
    """

    event_id: str
    granted: bool
    amount: Decimal
    allowance_units: Decimal
    available: Decimal | None
    reason: str = ""


@dataclass(slots=True)
class Reservation:
    """Open reservation of a session's rating group."""

    session_id: str
    rating_group: int
    subscriber: SubscriberProfile
    usage_type: str
    zone: str
    units: Decimal
    allowance_units: dict[str, Decimal]
    money: Decimal
    expires_at: datetime
    seq: int = 0
    history: list[Decimal] = field(default_factory=list)


class OnlineCharging:
    """Credit control for sessions, per rating group, over a ledger store.

    ``usage_types`` maps rating groups to usage types (``{10: "data"}``) for the rater.
    """

    def __init__(self, store: LedgerStore, profiles: ProfileCache, rater: Rater, *,
                 graph: ProcessGraph | GraphBuilder | None = None,
                 usage_types: dict[int, str] | None = None,
                 validity: timedelta = timedelta(minutes=5),
                 masking: MaskingPolicy = DEFAULT_MASKING) -> None:
        self.store = store
        self.profiles = profiles
        self.rater = rater
        if graph is None:
            graph = default_graph(profiles, rater)
        #: the graph every commit and event charge runs through (the real-time graph's)
        self.graph = graph.build() if isinstance(graph, GraphBuilder) else graph
        self.usage_types = usage_types or {10: "data", 20: "voice", 30: "sms"}
        self.validity = validity
        self.masking = masking
        self._open: dict[tuple[str, int], Reservation] = {}
        self._periods = PeriodResolver()

    def _tariff(self, sub: SubscriberProfile, usage_type: str, zone: str, rg: int,
                session_id: str, now: datetime) -> Tariff:
        probe = UsageEvent(session_id, sub.id, sub.account.id, usage_type, now, _ONE,
                           zone=zone, rating_group=rg)
        return self.rater.tariff(probe, sub)

    def _held(self, key: str) -> Decimal:
        """Allowance units held by open reservations for counter ``key``."""
        return sum((r.allowance_units.get(key, _ZERO) for r in self._open.values()), _ZERO)

    def _held_money(self, account: str) -> Decimal:
        return sum((r.money for r in self._open.values()
                    if r.subscriber.account.id == account), _ZERO)

    def _available(self, sub: SubscriberProfile, item_type: str,
                   period: str) -> Decimal | None:
        """Money the account can still spend on ``item_type`` (``None``: no limit).

        Prepaid: the balance down to its floor (minus the overdraft limit); postpaid, or a
        hybrid account's postpaid items: the credit limit minus the spend. Less what open
        reservations hold.
        """
        account = sub.account
        counters = self.store.get_counters
        if account.pays_from_balance(item_type):
            key = balance_key(account.id)
            return (counters((key,)).get(key, _ZERO) + account.overdraft_limit
                    - self._held_money(account.id))
        if account.credit_limit is not None:
            key = spend_key(account.id, period)
            return (account.credit_limit - counters((key,)).get(key, _ZERO)
                    - self._held_money(account.id))
        return None

    def _price(self, sub: SubscriberProfile, tariff: Tariff,
               period: str) -> Callable[[Decimal], Decimal]:
        """What ``units`` more charged units cost now, tax included: over the period for a
        period-priced tariff (tiers count from the period's usage so far), else the
        tariff's amount."""
        rate = _ONE + sub.account.tax_rate(tariff.item_type)
        if getattr(tariff, "cumulative", False):
            scope = sub.account.id if getattr(tariff, "scope", "") == "account" else sub.id
            ukey, akey = period_usage_keys(scope, getattr(tariff, "counter", ""), period)
            found = self.store.get_counters((ukey, akey))
            used, posted = found.get(ukey, _ZERO), found.get(akey, _ZERO)
            period_amount: Callable[[Decimal], Decimal] = tariff.period_amount  # type: ignore[attr-defined]
            return lambda units: (period_amount(used + units) - posted) * rate
        return lambda units: tariff.amount(units) * rate

    @staticmethod
    def _affordable(price: Callable[[Decimal], Decimal], wanted: Decimal,
                    available: Decimal) -> Decimal:
        """The most whole units, up to ``wanted``, whose price fits in ``available``
        (prices grow with units: a binary search)."""
        if price(wanted) <= available:
            return wanted
        low, high = _ZERO, wanted.to_integral_value(rounding=ROUND_FLOOR)
        while low < high:
            mid = (low + high + 1) // 2
            if price(mid) <= available:
                low = mid
            else:
                high = mid - 1
        return low

    @in_money_context
    def _reserve(self, res: Reservation, requested: Decimal, now: datetime) -> Grant:
        sub = res.subscriber
        account = sub.account
        period = self._periods(now, account.bill_cycle_day)
        tariff = self._tariff(sub, res.usage_type, res.zone, res.rating_group, res.session_id,
                              now)
        res.allowance_units = {}
        res.money = _ZERO
        res.units = _ZERO
        counters = self.store.get_counters
        left = requested
        granted = _ZERO
        for key, take in _from_allowances(
                sub, res.usage_type, res.zone, period, requested,
                lambda k: counters((k,)).get(k, _ZERO) + self._held(k)):
            res.allowance_units[key] = take
            left -= take
            granted += take
        limited = False
        if left > 0:
            price = self._price(sub, tariff, period)
            available = self._available(sub, tariff.item_type, period)
            units = left if available is None else self._affordable(
                price, left, available if available > 0 else _ZERO)
            limited = units < left
            res.money = price(units)
            granted += units
        res.units = granted
        res.expires_at = now + self.validity
        return Grant(res.session_id, res.rating_group, requested, granted,
                     limited or granted < requested, res.expires_at)

    def _run(self, event: UsageEvent) -> tuple[LedgerTransaction, Batch]:
        """Run ``event`` through the graph on a fresh transaction (not yet committed)."""
        tx = LedgerTransaction(self.store, masking=self.masking)
        batch = Batch([event], tx)
        self.graph.run(batch)
        return tx, batch

    @staticmethod
    def _outcome(batch: Batch, account: AccountProfile) -> tuple[Decimal, Decimal, Decimal, str]:
        """What the graph charged one event: (net amount, allowance units, what the account
        itself pays with tax, the item type)."""
        amount = units = own = _ZERO
        item_type = ""
        for item in batch.items:
            for c in item.charges:
                amount += c.net
                units += c.allowance_units
                item_type = c.item_type
                if c.shares:
                    own += sum((net + tax for payer, net, tax in c.shares
                                if payer == account.id), _ZERO)
                else:
                    own += c.total
        return amount, units, own, item_type

    @staticmethod
    def _rejected(batch: Batch, event: object) -> EventRejectedError | None:
        """The error of a rejected event (its dead letter is in the transaction), if any."""
        if not batch.rejected:
            return None
        (reason,) = batch.rejected
        (dead,) = batch.tx.changes.dead_letters
        return EventRejectedError(dead.message or f"event {dead.event_id}: rejected ({reason})",
                                  reason=reason, event_id=dead.event_id)

    @in_money_context
    def _commit(self, res: Reservation, used: Decimal, now: datetime) -> Commit:
        sub = res.subscriber
        account = sub.account
        tariff = self._tariff(sub, res.usage_type, res.zone, res.rating_group, res.session_id,
                              now)
        res.seq += 1
        # the units of a grant are in the tariff's unit (a plain Tariff's: the event's default)
        event = UsageEvent(f"occ|{res.session_id}|{res.rating_group}|{res.seq}", sub.id,
                           account.id, res.usage_type, now, used, zone=res.zone,
                           rating_group=res.rating_group, session=res.session_id)
        unit: str | None = getattr(tariff, "unit", None)
        if unit is not None:
            event = replace(event, unit=unit)
        tx, batch = self._run(event)
        owed = tx.changes.counters.get(debt_key(account.id), _ZERO)
        error = self._rejected(batch, event)
        tx.commit()  # the units were used: posted (or, when rejected, a dead letter)
        if error is not None:
            raise error
        res.history.append(used)
        amount, from_allowance, _, _ = self._outcome(batch, account)
        released = res.units - used if res.units > used else _ZERO
        return Commit(res.session_id, res.rating_group, used, from_allowance, amount, released,
                      owed if owed > 0 else _ZERO)

    @staticmethod
    def _check(session_id: object, rating_group: object, now: object,
               **amounts: object) -> None:
        """Refuse a malformed request (reason ``invalid``) before anything is read or held:
        the session id is text, the rating group an int, ``now`` a datetime, each unit
        count a finite, non-negative Decimal within :data:`~telcoflow.billing.steps.
        MAX_QUANTITY`."""
        sid = session_id if storable_id(session_id) else shown(session_id)[:80]
        problem = None
        if not storable_id(session_id) or not session_id:
            problem = f"session id must be non-empty text (got {shown(session_id):.60})"
        elif type(rating_group) is not int:
            problem = f"`rating_group` must be an int (got {shown(rating_group):.60})"
        elif not isinstance(now, datetime):
            problem = f"`now` must be a datetime (got {shown(now):.60})"
        else:
            for name, value in amounts.items():
                problem = number_problem(value, name, f"in session {sid}", MAX_QUANTITY)
                if problem is None and value < 0:  # type: ignore[operator]
                    problem = f"`{name}` must be >= 0 (got {value})"
                if problem is not None:
                    break
        if problem is not None:
            raise EventRejectedError(f"session {sid}: {problem}", reason="invalid",
                                     event_id=sid)

    # -- the three requests -------------------------------------------------------------
    def initial(self, session_id: str, subscriber: str, rating_group: int, requested: Decimal,
                now: datetime, *, zone: str = "home") -> Grant:
        """CCR-Initial: reserve up to ``requested`` units for ``rating_group``."""
        self._check(session_id, rating_group, now, requested=requested)
        sub = self.profiles.subscriber(subscriber) if storable_id(subscriber) else None
        if sub is None:
            raise EventRejectedError(f"session {session_id}: unknown subscriber "
                                     f"{subscriber!r}", reason="unknown-subscriber",
                                     event_id=session_id)
        if (session_id, rating_group) in self._open:
            raise EventRejectedError(
                f"session {session_id} already has a reservation for rating group "
                f"{rating_group}", reason="conflict", event_id=session_id)
        usage_type = self.usage_types.get(rating_group)
        if usage_type is None:
            raise RatingError(f"session {session_id}: rating group {rating_group} has no usage "
                              f"type (known: {sorted(self.usage_types)})")
        res = Reservation(session_id, rating_group, sub, usage_type, zone, _ZERO, {}, _ZERO, now)
        grant = self._reserve(res, requested, now)
        self._open[(session_id, rating_group)] = res
        return grant

    def _get(self, session_id: str, rating_group: int) -> Reservation:
        res = self._open.get((session_id, rating_group))
        if res is None:
            raise EventRejectedError(
                f"session {session_id} has no open reservation for rating group "
                f"{rating_group} (expired or never reserved)", reason="no-reservation",
                event_id=session_id)
        return res

    def update(self, session_id: str, rating_group: int, used: Decimal, requested: Decimal,
               now: datetime) -> tuple[Commit, Grant]:
        """CCR-Update: commit ``used`` units, then reserve up to ``requested`` again."""
        self._check(session_id, rating_group, now, used=used, requested=requested)
        res = self._get(session_id, rating_group)
        res.money = _ZERO
        res.allowance_units = {}
        commit = self._commit(res, used, now)
        return commit, self._reserve(res, requested, now)

    def terminate(self, session_id: str, rating_group: int, used: Decimal,
                  now: datetime) -> Commit:
        """CCR-Terminate: commit the last ``used`` units and release the rest."""
        self._check(session_id, rating_group, now, used=used)
        res = self._get(session_id, rating_group)
        del self._open[(session_id, rating_group)]
        return self._commit(res, used, now)

    @in_money_context
    def charge_event(self, event: UsageEvent) -> EventCharge:
        """Immediate event charging: charge all of ``event`` now, or refuse it.

        The event runs through the same graph as offline usage (allowances, period pricing,
        discounts, tax, split), in a transaction that is committed only when the account can
        pay what falls to it (net plus tax): a prepaid balance down to its floor, a postpaid
        credit limit, each less what open reservations hold. Otherwise the event is refused
        (3GPP ``CREDIT_LIMIT_REACHED``) and nothing is written. A charged event is claimed
        under its own id with its payload fingerprint: charging it again, or sending it
        through the real-time graph afterwards, is a no-op (a duplicate). An event the graph
        rejects raises :class:`~telcoflow.errors.EventRejectedError` with the reason (its
        dead letter is written).
        """
        tx, batch = self._run(event)  # validates anything it is handed first
        error = self._rejected(batch, event)
        if error is not None:
            tx.commit()
            raise error
        sub = self.profiles.subscriber(event.subscriber)
        assert sub is not None  # enriched by the graph
        account = sub.account
        amount, from_allowance, own, item_type = self._outcome(batch, account)
        if batch.duplicates:
            return EventCharge(event.id, True, amount, from_allowance, None, "already charged")
        period = batch.items[0].post_period if batch.items else ""
        available = self._available(sub, item_type, period) if own > 0 else None
        if available is not None and own > available:
            return EventCharge(event.id, False, amount, from_allowance, available,
                               f"credit limit reached: the event costs {own}, the account "
                               f"{account.id} can pay {available}")
        tx.commit()
        return EventCharge(event.id, True, amount, from_allowance, available)

    def expire(self, now: datetime) -> list[Reservation]:
        """Release every reservation whose validity ended before ``now``."""
        gone = [r for r in self._open.values() if r.expires_at <= now]
        for r in gone:
            del self._open[(r.session_id, r.rating_group)]
        return gone

    @property
    def open_reservations(self) -> list[Reservation]:
        """Reservations currently held."""
        return list(self._open.values())
