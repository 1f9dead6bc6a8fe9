"""The ``rate`` step: units and amounts of usage (tariffs, allowances, period counters),
fees and recurring charges."""

from __future__ import annotations

from decimal import Decimal

from telcoflow.accounts import Allowance, SubscriberProfile
from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.recurring import RecurringFees
from telcoflow.billing.steps._shared import (
    _ONE,
    _ZERO,
)
from telcoflow.billing.transaction import LedgerTransaction
from telcoflow.catalog.common import convert_quantity
from telcoflow.errors import RatingError
from telcoflow.events import (
    Charge,
    FeeEvent,
    LifecycleEvent,
    UsageEvent,
)
from telcoflow.ledger import (
    CounterMoves,
    allowance_key,
    connect_key,
    period_usage_keys,
)
from telcoflow.rating.rater import Rater, Tariff

#: a subscriber's allowances, their counter keys in one period, and per allowance
#: ``(usage types, zones, units included, counter key)``
_Buckets = tuple[
    tuple[Allowance, ...],
    tuple[str, ...],
    tuple[tuple[frozenset[str], frozenset[str] | None, Decimal, str], ...],
]


class _Memo:
    """A tariff's cached results and attributes for the ``rate`` step.

    Caches quantity -> charged units, units -> amount and period units -> period amount.
    Tariffs are pure functions of their input (the :class:`~telcoflow.rating.rater.Tariff`
    contract), so the ``rate`` step remembers their results; each table is bounded. The
    period-pricing attributes of a :class:`~telcoflow.rating.rater.PeriodTariff` are read
    once (a plain :class:`Tariff` is additive, in any unit, without connect fee).
    """

    __slots__ = ("amounts", "by_account", "connect_fee", "counter", "cumulative", "keys",
                 "per_session", "period", "scope", "tariff", "unit", "units")

    LIMIT = 4096
    PERIOD_LIMIT = 1 << 16

    def __init__(self, tariff: Tariff) -> None:
        self.tariff = tariff  # keeps the tariff alive while it is cached by its id
        self.units: dict[Decimal, Decimal] = {}
        self.amounts: dict[Decimal, Decimal] = {}
        self.period: dict[Decimal, Decimal] = {}
        self.cumulative: bool = bool(getattr(tariff, "cumulative", False))
        self.counter: str = getattr(tariff, "counter", "")
        self.scope: str = getattr(tariff, "scope", "subscriber")
        self.by_account = self.scope == "account"
        #: the period counter keys, by period and scope
        self.keys: dict[str, dict[str, tuple[str, str]]] = {}
        self.unit: str | None = getattr(tariff, "unit", None)
        self.connect_fee: Decimal = getattr(tariff, "connect_fee", _ZERO)
        self.per_session: bool = bool(getattr(tariff, "connect_per_session", False))

    def charged_units(self, quantity: Decimal) -> Decimal:
        """The tariff's charged units for ``quantity``."""
        found = self.units.get(quantity)
        if found is None:
            found = self.tariff.charged_units(quantity)
            if len(self.units) < self.LIMIT:
                self.units[quantity] = found
        return found

    def amount(self, units: Decimal) -> Decimal:
        """The tariff's amount for ``units``."""
        found = self.amounts.get(units)
        if found is None:
            found = self.tariff.amount(units)
            if len(self.amounts) < self.LIMIT:
                self.amounts[units] = found
        return found

    def period_amount(self, units: Decimal) -> Decimal:
        """What ``units`` charged units cost over a whole period (remembered: period totals
        keep growing, so the table is emptied when full rather than frozen)."""
        found = self.period.get(units)
        if found is None:
            found = self.tariff.period_amount(units)  # type: ignore[attr-defined]
            if len(self.period) >= self.PERIOD_LIMIT:
                self.period.clear()
            self.period[units] = found
        return found



class Rate:
    """Rate usage (allowances first, then the tariff's price); fees and lifecycle charges.

    Usage that cannot be rated is rejected (``unrateable``; ``unit-mismatch`` for a unit
    that does not convert exactly into the tariff's) before any allowance is used; fees in a
    currency other than the account's are rejected (``currency-mismatch``).

    Period pricing: a cumulative tariff (see :class:`~telcoflow.rating.rater.PeriodTariff`)
    charges an event ``period_amount(units after) - amount already posted`` in its scope and
    period, so a period's events add up to the price of its total however the usage is split
    or ordered, and reversing an event (rerating) or rating a late one keeps that true. The
    two counters move with the event's claim, in the same transaction. An ``open_period``
    lifecycle event settles what a period owes without usage (a first tier's flat fee, a
    minimum charge). ``period_counters=False`` prices each event on its own (the behaviour
    before period pricing; kept for comparison in benchmarks).

    Tariff results are cached per tariff (bounded); allowance counter keys per subscriber
    and period.
    """

    __slots__ = ("_alw_keys", "_memos", "_units", "fees", "period_counters", "rater")
    name = "rate"
    needs = ("profile", "period")
    provides = ("rated",)

    def __init__(self, rater: Rater, *, fees: RecurringFees | None = None,
                 period_counters: bool = True) -> None:
        self.rater = rater
        self.fees = fees
        self.period_counters = period_counters
        self._memos: dict[int, _Memo] = {}
        # period -> subscriber id -> (allowances, their counter keys, what each covers)
        self._alw_keys: dict[str, dict[str, _Buckets]] = {}
        # (event unit, tariff unit) -> checked (the conversion itself is exact arithmetic)
        self._units: set[tuple[str, str]] = set()

    def _memo(self, tariff: Tariff) -> _Memo:
        memo = self._memos.get(id(tariff))
        if memo is None or memo.tariff is not tariff:
            if len(self._memos) > 4096:
                self._memos.clear()
            memo = self._memos[id(tariff)] = _Memo(tariff)
        return memo

    def _memo_keys(self, memo: _Memo, scope: str, period: str) -> tuple[str, str]:
        """The period counter keys of ``scope`` for ``memo``'s tariff (cached on the memo,
        per period; bounded)."""
        by_scope = memo.keys.get(period)
        if by_scope is None:
            if len(memo.keys) > 64:  # a few cycles are ever live
                memo.keys.clear()
            by_scope = memo.keys[period] = {}
        found = by_scope.get(scope)
        if found is None:
            if len(by_scope) > 1 << 20:
                by_scope.clear()
            found = by_scope[scope] = period_usage_keys(scope, memo.counter, period)
        return found

    def _keys(self, sub: SubscriberProfile, period: str) -> _Buckets:
        by_sub = self._alw_keys.get(period)
        if by_sub is None:
            if len(self._alw_keys) > 64:
                self._alw_keys.clear()
            by_sub = self._alw_keys[period] = {}
        found = by_sub.get(sub.id)
        if found is not None and found[0] is sub.allowances:
            return found
        keys = tuple(allowance_key(sub.id, a.name, period) for a in sub.allowances)
        found = by_sub[sub.id] = (sub.allowances, keys, tuple(
            (a.usage_types, a.zones, a.units, key)
            for a, key in zip(sub.allowances, keys, strict=True)))
        return found

    def __call__(self, batch: Batch) -> None:
        """Build each item's charges."""
        tx = batch.tx
        values = tx.values
        deltas = tx.changes.counters
        tariff_of = self.rater.tariff
        memos = self._memos
        alw_keys = self._alw_keys
        cumulative_on = self.period_counters
        keep = []
        items = batch.items
        view = tx.view
        if view is None:  # read the allowance and period counters of the batch in one call
            wanted: list[str] = []
            period_tariffs = getattr(self.rater, "period_tariffs", None)
            for item in items:
                sub = item.subscriber
                e = item.event
                if (sub is not None and type(e) is LifecycleEvent and e.action == "open_period"
                        and period_tariffs is not None and cumulative_on):
                    try:
                        for tariff in period_tariffs(sub, e.start):
                            first = self._memo(tariff)
                            wanted.extend(self._memo_keys(
                                first, sub.account.id if first.by_account else sub.id,
                                item.period))
                    except RatingError:
                        pass  # rejected below, with its reason
                    continue
                if sub is None or type(e) is not UsageEvent:
                    continue
                if sub.allowances:
                    wanted.extend(self._keys(sub, item.period)[1])
                if cumulative_on:
                    try:
                        first = self._memo(tariff_of(e, sub))
                    except RatingError:
                        continue  # rejected below, with its reason
                    if first.cumulative:
                        wanted.extend(self._memo_keys(
                            first, sub.account.id if first.by_account else sub.id,
                            item.period))
            if wanted:
                tx.prefetch(wanted)
        for item in items:
            e = item.event
            sub = item.subscriber
            if type(e) is UsageEvent:
                assert sub is not None
                buckets: _Buckets | None = None
                if sub.allowances:
                    by_sub = alw_keys.get(item.period)
                    buckets = by_sub.get(sub.id) if by_sub is not None else None
                    if buckets is None or buckets[0] is not sub.allowances:
                        buckets = self._keys(sub, item.period)
                try:
                    tariff = tariff_of(e, sub)
                    memo = memos.get(id(tariff))
                    if memo is None or memo.tariff is not tariff:
                        memo = self._memo(tariff)
                    quantity = e.quantity
                    if memo.unit is not None and e.unit != memo.unit:
                        quantity = self._convert(quantity, e.unit, memo.unit)
                    units = memo.units.get(quantity)
                    if units is None:
                        units = memo.charged_units(quantity)
                except _UnitError as exc:
                    batch.reject(item, "unit-mismatch", f"event {e.id}: {exc}")
                    continue
                except RatingError as exc:
                    batch.reject(item, "unrateable", str(exc))
                    continue
                left = units
                takes: list[tuple[str, Decimal, Decimal]] | None = None
                if buckets is not None and units:
                    usage_type, zone = e.usage_type, e.zone
                    takes = []
                    for usage_types, zones, included, key in buckets[2]:
                        if usage_type in usage_types and (zones is None or zone in zones):
                            used = values.get(key)
                            if used is None:
                                used = (view.get(key, _ZERO) if view is not None
                                        else tx.counter(key))
                            free = included - used
                            if free > 0:
                                take = free if free < left else left
                                takes.append((key, used, take))
                                left -= take
                                if not left:
                                    break
                moved: tuple[str, Decimal, str, Decimal] | tuple[()] = ()
                try:
                    if memo.cumulative and cumulative_on:
                        scope = sub.account.id if memo.by_account else sub.id
                        by_key = memo.keys.get(item.period)
                        pkeys = by_key.get(scope) if by_key is not None else None
                        if pkeys is None:
                            pkeys = self._memo_keys(memo, scope, item.period)
                        ukey, akey = pkeys
                        used_units = values.get(ukey)
                        if used_units is None:
                            used_units = (view.get(ukey, _ZERO) if view is not None
                                          else tx.counter(ukey))
                        posted = values.get(akey)
                        if posted is None:
                            posted = (view.get(akey, _ZERO) if view is not None
                                      else tx.counter(akey))
                        total = used_units + left if left else used_units
                        due = memo.period.get(total)
                        if due is None:
                            due = memo.period_amount(total)
                        amount = due - posted
                        # nothing below can reject the event: move its period counters
                        # (inlined LedgerTransaction.add, twice; the amount posted becomes
                        # the period amount ``due`` itself)
                        if left:
                            values[ukey] = total
                            was = deltas.get(ukey)
                            deltas[ukey] = left if was is None else was + left
                        if amount:
                            values[akey] = due
                            was = deltas.get(akey)
                            deltas[akey] = amount if was is None else was + amount
                        if left or amount:
                            moved = (ukey, left, akey, amount)
                    else:
                        found = memo.amounts.get(left)
                        amount = memo.amount(left) if found is None else found
                except RatingError as exc:  # e.g. above a price model's last tier
                    batch.reject(item, "unrateable", str(exc))
                    continue
                # the allowance units taken and the period counters moved: one counter
                # effect per allowance (inlined LedgerTransaction.add), the period's two
                # counters riding on the first
                if takes:
                    effects = item.effects
                    for key, used, take in takes:
                        values[key] = used + take
                        was = deltas.get(key)
                        deltas[key] = take if was is None else was + take
                        effects.append(CounterMoves((key, take, *moved)))
                        moved = ()
                elif moved:
                    item.effects.append(CounterMoves(moved))
                if memo.connect_fee:
                    amount += self._connect_fee(tx, item, memo)
                item.charges = [Charge(tariff.item_type, amount, units, units - left)]
            elif type(e) is FeeEvent:
                assert item.account is not None
                if e.currency != item.account.currency:
                    batch.reject(item, "currency-mismatch",
                                 f"event {e.id}: fee in {e.currency}, account "
                                 f"{item.account.id} bills in {item.account.currency}")
                    continue
                item.charges = [Charge(e.fee_type, e.amount, _ONE)]
            elif type(e) is LifecycleEvent and e.action == "open_period":
                assert sub is not None
                try:
                    item.charges = self._open_period(tx, item, sub) if cumulative_on else []
                except RatingError as exc:
                    batch.reject(item, "unrateable", str(exc))
                    continue
            elif type(e) is LifecycleEvent and self.fees is not None:
                assert sub is not None
                try:
                    item.charges = self.fees.charges(e, sub)
                except RatingError as exc:
                    batch.reject(item, "unrateable", str(exc))
                    continue
            keep.append(item)
        batch.items = keep

    def _convert(self, quantity: Decimal, unit: str, to_unit: str) -> Decimal:
        """``quantity`` in ``unit`` as a quantity of ``to_unit`` (exact), else _UnitError."""
        try:
            return convert_quantity(quantity, unit, to_unit)
        except RatingError as exc:
            raise _UnitError(str(exc)) from None

    @staticmethod
    def _connect_fee(tx: LedgerTransaction, item: Item, memo: _Memo) -> Decimal:
        """The connect fee of a usage record: every call, or a session's first record."""
        e = item.event
        assert type(e) is UsageEvent
        if not memo.per_session or not e.session:
            return memo.connect_fee
        key = connect_key(e.subscriber, e.session, item.period)
        if tx.counter(key):
            return _ZERO
        tx.add(item.effects, key, _ONE)
        return memo.connect_fee

    def _open_period(self, tx: LedgerTransaction, item: Item,
                     sub: SubscriberProfile) -> list[Charge]:
        """Settle what each period-priced tariff owes for the period without usage."""
        period_tariffs = getattr(self.rater, "period_tariffs", None)
        if period_tariffs is None:
            return []
        charges = []
        for tariff in period_tariffs(sub, item.event.start):
            memo = self._memo(tariff)
            ukey, akey = self._memo_keys(memo, sub.account.id if memo.by_account else sub.id,
                                         item.period)
            amount = memo.period_amount(tx.counter(ukey)) - tx.counter(akey)
            if amount:
                tx.add(item.effects, akey, amount)
                charges.append(Charge(tariff.item_type, amount, _ZERO))
        return charges


class _UnitError(RatingError):
    """A usage quantity whose unit does not convert exactly into the tariff's."""
