"""The steps of the default real-time graph.

validate -> deduplicate -> enrich -> rate -> ledger -> discount -> tax -> split ->
credit_control -> emit

Each step is a small class configured in ``__init__`` and working in ``__call__`` over a
whole batch, with ``__slots__``. Steps that reject an item send it to the dead letters
(``batch.reject``) and drop it from ``batch.items``; checks that can reject run before any
effect of the item is posted, so a rejected event leaves no trace but its dead letter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal

from telcoflow.accounts import AccountProfile, Allowance, ProfileCache, SubscriberProfile
from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.prepaid import split_credit, split_debit
from telcoflow.billing.recurring import RecurringFees
from telcoflow.billing.transaction import LedgerTransaction
from telcoflow.catalog.common import convert_quantity
from telcoflow.errors import DefinitionError, RatingError
from telcoflow.events import (
    FEE_TYPES,
    LIFECYCLE_ACTIONS,
    PAYMENT_TYPES,
    Charge,
    FeeEvent,
    LifecycleEvent,
    Notification,
    PaymentEvent,
    RatedRecord,
    UsageEvent,
    base_item_type,
    local_fingerprint,
    same_payload,
)
from telcoflow.ledger import (
    Claim,
    CounterMoves,
    LineKey,
    Posting,
    allowance_key,
    balance_key,
    cap_key,
    closed_flag,
    connect_key,
    debt_key,
    discount_cap_key,
    notification_flag,
    period_usage_keys,
    spend_key,
    storable_id,
    top_up_key,
)
from telcoflow.money import shown
from telcoflow.periods import PeriodResolver, next_period
from telcoflow.rating.adjustments import TaxRules
from telcoflow.rating.rater import Rater, Tariff

__all__ = [
    "MAX_QUANTITY",
    "USAGE_TYPES",
    "CreditControl",
    "Deduplicate",
    "Discount",
    "Emit",
    "Enrich",
    "LatePolicy",
    "Ledger",
    "Rate",
    "Sink",
    "Split",
    "Tax",
    "Validate",
    "number_problem",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)

LatePolicy = Literal["next", "reject"]
#: The usage types the default graph accepts: every service a catalog tariff may price.
USAGE_TYPES = ("data", "voice", "sms", "slice", "units")
Sink = Callable[[list[RatedRecord], list[Notification]], None]



_KEY_LIMIT = 1 << 20


def _intern(table: dict[LineKey, LineKey], key: LineKey) -> LineKey:
    """Keep one tuple per ledger line key (bounded), so claims share it.

    An event's effects refer to its line keys; a batch's new tuples that survive in the
    store's claims are walked by the garbage collector, shared ones are not.
    """
    if len(table) >= _KEY_LIMIT:
        table.clear()
    table[key] = key
    return key


#: The largest quantity a usage event may carry (in any unit: 10^15 bytes is a petabyte).
MAX_QUANTITY = Decimal(10) ** 15
#: The largest amount a fee or payment may carry, in any currency.
MAX_AMOUNT = Decimal(10) ** 12
#: The most significant digits a quantity or amount may carry (more would be rounded).
MAX_DIGITS = 20
#: The longest text field (ids, names, zones...) an event may carry, in characters.
MAX_TEXT = 256

_TEXT_FIELDS: dict[type, tuple[str, ...]] = {
    UsageEvent: ("id", "subscriber", "account", "usage_type", "unit", "zone", "region", "slice",
                 "qos", "device", "session"),
    FeeEvent: ("id", "subscriber", "account", "fee_type", "currency", "description"),
    LifecycleEvent: ("id", "subscriber", "account", "action", "offer", "previous_offer",
                     "device"),
    PaymentEvent: ("id", "account", "payment_type", "currency", "subscriber"),
}


def number_problem(value: object, name: str, where: str, maximum: Decimal) -> str | None:
    """What is wrong with a quantity or amount (``where``: ``"in event e1"``), or ``None``:
    a finite Decimal of at most ``maximum`` and :data:`MAX_DIGITS` significant digits."""
    if type(value) is not Decimal or not value.is_finite():
        return f"`{name}` must be a finite Decimal (got {shown(value):.60} {where})"
    if abs(value) > maximum:
        return f"`{name}` must be at most {maximum:.0E} (got {value:.6E} {where})"
    if len(value.as_tuple().digits) > MAX_DIGITS:
        return (f"`{name}` must have at most {MAX_DIGITS} significant digits (got "
                f"{len(value.as_tuple().digits)} {where})")
    return None


class Validate:
    """Reject malformed events (reason ``invalid``), naming field, expectation and value.

    Anything that is not one of the four event types, a field of the wrong type, text that
    is not valid Unicode (lone surrogates) or longer than :data:`MAX_TEXT`, a time that is
    not a ``datetime``, a quantity or amount beyond :data:`MAX_QUANTITY` / :data:`MAX_AMOUNT`
    or with more than :data:`MAX_DIGITS` digits, a usage event without a zone: each becomes
    a dead letter with its reason; nothing raises to the caller.
    """

    __slots__ = ("usage_types",)
    name = "validate"
    needs = ("events",)
    provides = ("valid",)

    def __init__(self, usage_types: Iterable[str] = USAGE_TYPES) -> None:
        self.usage_types = frozenset(usage_types)

    def problem(self, item: Item) -> str | None:
        """What is wrong with the item's event, or ``None``."""
        e: object = item.event
        fields = _TEXT_FIELDS.get(type(e))
        if fields is None:
            return ("expected a UsageEvent, FeeEvent, LifecycleEvent or PaymentEvent (got "
                    f"{type(e).__name__})")
        raw_id = getattr(e, "id", None)
        eid = raw_id if storable_id(raw_id, MAX_TEXT) else shown(raw_id)[:80]
        for name in fields:
            value = getattr(e, name)
            if type(value) is not str:
                return (f"`{name}` must be text (got {type(value).__name__} {shown(value):.60} "
                        f"in event {eid})")
            if len(value) > MAX_TEXT:
                return (f"`{name}` must be at most {MAX_TEXT} characters (got {len(value)} "
                        f"in event {eid})")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return f"`{name}` must be valid Unicode text (got {value!r:.60} in event {eid})"
        if not raw_id:
            return "`id` must not be empty"
        if type(getattr(e, "start", None)) is not datetime:
            return (f"`start` must be a datetime (got {shown(getattr(e, 'start', None)):.60} "
                    f"in event {eid})")
        if isinstance(e, UsageEvent):
            problem = number_problem(e.quantity, "quantity", f"in event {eid}", MAX_QUANTITY)
            if problem is not None:
                return problem
            if e.quantity < 0:
                return f"`quantity` must be >= 0 (got {e.quantity} in event {eid})"
            if e.usage_type not in self.usage_types:
                return (f"`usage_type` must be one of {sorted(self.usage_types)} "
                        f"(got {e.usage_type!r} in event {eid})")
            if not e.subscriber:
                return f"`subscriber` must not be empty (event {eid})"
            if not e.zone:
                return f"`zone` must not be empty (event {eid}): say where the usage happened"
            if type(e.rating_group) is not int:
                return (f"`rating_group` must be an integer (got {shown(e.rating_group):.60} "
                        f"in event {eid})")
            return None
        if isinstance(e, FeeEvent):
            if e.fee_type not in FEE_TYPES:
                return (f"`fee_type` must be one of {sorted(FEE_TYPES)} (got {e.fee_type!r} "
                        f"in event {eid})")
            return number_problem(e.amount, "amount", f"in event {eid}", MAX_AMOUNT)
        if isinstance(e, LifecycleEvent):
            if e.action not in LIFECYCLE_ACTIONS:
                return (f"`action` must be one of {sorted(LIFECYCLE_ACTIONS)} "
                        f"(got {e.action!r} in event {eid})")
            return None
        assert isinstance(e, PaymentEvent)
        if e.payment_type not in PAYMENT_TYPES:
            return (f"`payment_type` must be one of {sorted(PAYMENT_TYPES)} "
                    f"(got {e.payment_type!r} in event {eid})")
        problem = number_problem(e.amount, "amount", f"in event {eid}", MAX_AMOUNT)
        if problem is not None:
            return problem
        if not e.amount > 0:
            return f"`amount` must be a Decimal > 0 (got {e.amount} in event {eid})"
        return None

    def __call__(self, batch: Batch) -> None:
        """Keep the valid items."""
        keep = []
        usage_types = self.usage_types
        for item in batch.items:
            e = item.event
            # fast path for the common, well-formed usage event (any odd field: slow path)
            if type(e) is UsageEvent:
                try:
                    text = (e.id + e.subscriber + e.account + e.usage_type + e.unit + e.zone
                            + e.region + e.slice + e.qos + e.device + e.session)
                except TypeError:  # a field that is not text
                    text = "\x80"  # not ASCII: the slow path says which field
                q = e.quantity
                if (text.isascii() and len(text) <= MAX_TEXT and e.id and e.subscriber
                        and e.zone and e.usage_type in usage_types
                        and type(e.start) is datetime and type(e.rating_group) is int
                        and type(q) is Decimal and q.is_finite() and q >= 0
                        and q <= MAX_QUANTITY and len(str(q)) <= MAX_DIGITS):
                    keep.append(item)
                    continue
            problem = self.problem(item)
            if problem is None:
                keep.append(item)
            else:
                batch.reject(item, "invalid", problem)
        batch.items = keep


class Deduplicate:
    """Same id and payload again: a no-op; same id, other payload: rejected (``conflict``).

    Claims are read in one batch query; while rerating, claimed ids go through. Payload
    fingerprints are computed only when an id is seen again (a claim exists, or an earlier
    item of the batch has it).
    """

    __slots__ = ()
    name = "deduplicate"
    needs = ("valid",)
    provides = ("unique",)

    def __call__(self, batch: Batch) -> None:
        """Keep the items seen for the first time."""
        items = batch.items
        claims = batch.tx.claims([i.event.id for i in items])
        seen: dict[str, Item] = {}
        keep = []
        rerate = batch.rerate
        for item in items:
            eid = item.event.id
            if eid not in seen and (not claims or eid not in claims):
                seen[eid] = item  # the common case: a new id (no fingerprint needed)
                keep.append(item)
                continue
            first = seen.get(eid)
            if first is not None:
                earlier = first.fingerprint
                same = earlier == item.fingerprint
            else:
                earlier = claims[eid].fingerprint
                same = same_payload(earlier, item.event)
                if rerate and same:  # rerating: the same event again
                    seen[eid] = item
                    keep.append(item)
                    continue
            fp = item.fingerprint
            if same:
                batch.duplicates += 1
            else:
                batch.reject(item, "conflict",
                             f"event {eid} was already accepted with another payload "
                             f"(fingerprint {earlier}, got {fp})")
        batch.items = keep


class Enrich:
    """Attach the subscriber and account profiles and the period (through a cache).

    Rejects unknown subscribers / accounts (``unknown-subscriber``, ``unknown-account``),
    an event whose account is not the subscriber's (``account-mismatch``), and -- with the
    ``reject`` late policy -- events for a closed period (``period-closed``). With the
    ``next`` policy (the default) such events post to the next open period.
    """

    __slots__ = ("_closed_keys", "late_policy", "periods", "profiles")
    name = "enrich"
    needs = ("unique",)
    provides = ("profile", "period")

    def __init__(self, profiles: ProfileCache, *, late_policy: LatePolicy = "next") -> None:
        if late_policy not in ("next", "reject"):
            raise DefinitionError(
                f"`late_policy` must be 'next' or 'reject' (got {late_policy!r})")
        self.profiles = profiles
        self.late_policy = late_policy
        self.periods = PeriodResolver()
        # period -> account id -> closed-flag key (the keys are read once per batch)
        self._closed_keys: dict[str, dict[str, str]] = {}

    def _closed_key(self, account: str, period: str) -> str:
        keys = self._closed_keys.get(period)
        if keys is None:
            if len(self._closed_keys) > 64:  # bounded: a few cycles are ever live
                self._closed_keys.clear()
            keys = self._closed_keys[period] = {}
        key = keys[account] = closed_flag(account, period)
        return key

    def __call__(self, batch: Batch) -> None:
        """Keep the items whose customer is known; closed periods: one flag read per batch."""
        subscriber_of = self.profiles.subscriber
        periods = self.periods
        closed_keys = self._closed_keys
        keys: dict[str, Item] = {}
        keep = []
        table_bcd, table = -1, periods.table(-1)
        for item in batch.items:
            e = item.event
            if type(e) is PaymentEvent or (type(e) is FeeEvent and not e.subscriber):
                # payments, and fees charged to an account rather than a line
                account = self.profiles.account(e.account)
                if account is None:
                    batch.reject(item, "unknown-account",
                                 f"unknown account {e.account!r} (event {e.id})")
                    continue
            else:
                sub = subscriber_of(e.subscriber)
                if sub is None:
                    batch.reject(item, "unknown-subscriber",
                                 f"unknown subscriber {e.subscriber!r} (event {e.id})")
                    continue
                account = sub.account
                if account.id != e.account:
                    batch.reject(item, "account-mismatch",
                                 f"event {e.id}: subscriber {e.subscriber!r} belongs to account "
                                 f"{account.id!r}, not {e.account!r}")
                    continue
                item.subscriber = sub
            item.account = account
            bcd = account.bill_cycle_day
            if bcd != table_bcd:
                table_bcd, table = bcd, periods.table(bcd)
            ordinal = e.start.toordinal()
            period = table.get(ordinal)
            if period is None:
                period = periods.resolve(ordinal, bcd)
            item.period = item.post_period = period
            by_account = closed_keys.get(period)
            key = by_account.get(account.id) if by_account is not None else None
            if key is None:
                key = self._closed_key(account.id, period)
            keys[key] = item
            keep.append(item)
        closed = batch.tx.flags_among(keys) if keys else None
        if closed:  # rare: some events fall in a closed period
            keep = [item for item in keep if self._late(batch, item)]
        batch.items = keep

    def _late(self, batch: Batch, item: Item) -> bool:
        """Move an item of a closed period to the next open one (or reject it)."""
        account = item.account
        assert account is not None
        period = post_period = item.period
        flag = batch.tx.flag
        while flag(closed_flag(account.id, post_period)):
            post_period = next_period(post_period, account.bill_cycle_day)
        if post_period != period and self.late_policy == "reject":
            batch.reject(item, "period-closed",
                         f"event {item.event.id} falls in period {period} of account "
                         f"{account.id}, which is closed")
            return False
        item.post_period = post_period
        return True


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


class Ledger:
    """Merge charges into the ledger by account, subscriber, item type and period."""

    __slots__ = ("_keys",)
    name = "ledger"
    needs = ("rated",)
    provides = ("posted",)

    def __init__(self) -> None:
        self._keys: dict[LineKey, LineKey] = {}

    def __call__(self, batch: Batch) -> None:
        """Post every charge's gross amount."""
        ledger = batch.tx.changes.ledger
        keys = self._keys
        for item in batch.items:
            if not item.charges:
                continue
            account = item.account
            assert account is not None
            sub = item.event.subscriber
            effects = item.effects
            for c in item.charges:
                # inlined LedgerTransaction.post (the hottest write)
                key = (account.id, sub, c.item_type, item.post_period, account.currency)
                key = keys.get(key) or _intern(keys, key)
                gross, quantity = c.gross, c.quantity
                line = ledger.get(key)
                if line is None:
                    ledger[key] = [gross, quantity]
                else:
                    line[0] += gross
                    line[1] += quantity
                effects.append(Posting((key, gross, quantity)))


class Discount:
    """Real-time discounts: percent off some item types, capped per account and period.

    The discount is posted as a negative ``discount`` line of the subscriber.
    """

    __slots__ = ()
    name = "discount"
    needs = ("posted",)
    provides = ("discounted",)

    def __call__(self, batch: Batch) -> None:
        """Apply each account's discount rules."""
        tx = batch.tx
        for item in batch.items:
            account = item.account
            if account is None or not account.discounts or not item.charges:
                continue
            for c in item.charges:
                for rule in account.discounts:
                    if c.gross <= 0 or base_item_type(c.item_type) not in rule.item_types:
                        continue
                    amount = c.gross * rule.percent / _HUNDRED
                    if rule.cap is not None:
                        key = discount_cap_key(account.id, rule.name, item.post_period)
                        room = rule.cap - tx.counter(key)
                        if amount > room:
                            amount = room if room > 0 else _ZERO
                        if amount:
                            tx.add(item.effects, key, amount)
                    if amount:
                        c.discount += amount
                        tx.post(item.effects, (account.id, item.event.subscriber, "discount",
                                               item.post_period, account.currency),
                                -amount)


class Tax:
    """Exclusive tax on each charge's net, posted as a ``tax`` line (the real-time figure).

    Built from the catalog's :class:`~telcoflow.rating.adjustments.TaxRules`
    (``Tax(TaxRules(catalog))``), a charge's rate is that of its category under the
    subscriber's offering (price, tariff, offering, catalog default); without rules, the
    account profile's ``tax_rates`` by item type. The posted tax is exact (unrounded): the
    cycle close rounds it by the catalog's rule, records what the ledger held as the bill's
    ``ledger_tax`` and bills the rule's figure (see docs/cycle-close.md). A charge whose
    category is inclusive there (a device price with the tax inside) adds no tax: its line
    holds the price, tax included, and the close extracts the tax from it.
    """

    __slots__ = ("_fractions", "_keys", "rules")
    name = "tax"
    needs = ("discounted",)
    provides = ("taxed",)

    def __init__(self, rules: TaxRules | None = None) -> None:
        self._keys: dict[LineKey, LineKey] = {}
        self.rules = rules
        self._fractions: dict[tuple[str, str], Decimal] = {}

    def _fraction(self, rules: TaxRules, offer: str, item_type: str) -> Decimal:
        """The fraction of a charge's net added as tax (0 for an inclusive rate: the tax is
        inside the price, which the charge's own line holds)."""
        key = (offer, item_type)
        found = self._fractions.get(key)
        if found is None:
            category = rules.category(offer, item_type)
            rate = rules.rate(category)
            found = self._fractions[key] = (
                _ZERO if rules.inclusive(category) else rate / _HUNDRED)
        return found

    def __call__(self, batch: Batch) -> None:
        """Compute and post the tax of every charge."""
        ledger = batch.tx.changes.ledger
        keys = self._keys
        rules = self.rules
        for item in batch.items:
            account = item.account
            if account is None or not item.charges:
                continue
            if rules is not None:
                sub = item.subscriber
                offer = sub.offer if sub is not None else ""
                rates: Mapping[str, Decimal] = {
                    c.item_type: self._fraction(rules, offer, c.item_type)
                    for c in item.charges}
            elif not account.tax_rates:
                continue
            else:
                rates = account.tax_rates
            for c in item.charges:
                rate = rates.get(c.item_type)  # inlined AccountProfile.tax_rate
                if rate is None:
                    rate = rates.get(base_item_type(c.item_type))  # a price's own fee
                    if rate is None:
                        rate = rates.get("*", _ZERO)
                if rate:
                    c.tax_rate = rate
                    c.tax = tax = (c.gross - c.discount if c.discount else c.gross) * rate
                    key = (account.id, item.event.subscriber, "tax", item.post_period,
                           account.currency)
                    key = keys.get(key) or _intern(keys, key)
                    line = ledger.get(key)
                    if line is None:
                        ledger[key] = [tax, _ZERO]
                    else:
                        line[0] += tax
                    item.effects.append(Posting((key, tax, _ZERO)))


class Split:
    """Split charges between payers (corporate pays up to a cap, hierarchical accounts).

    The share moved to a payer is posted as ``-x`` on the account's line and ``+x`` on the
    payer's line of the same item type (and the same for its tax), so parts always sum to
    the whole. Caps are counted per paid-for account and period (``cap|<account>|<period>``).
    """

    __slots__ = ("profiles",)
    name = "split"
    needs = ("taxed",)
    provides = ("split",)

    def __init__(self, profiles: ProfileCache) -> None:
        self.profiles = profiles

    def __call__(self, batch: Batch) -> None:
        """Fill every charge's ``shares``."""
        for item in batch.items:
            account = item.account
            if account is None or not item.charges:
                continue
            split = account.split
            for c in item.charges:
                net = c.gross - c.discount if c.discount else c.gross
                if split is None:
                    c.shares = [(account.id, net, c.tax)]
                    continue
                c.shares = self._split(batch, item, account, c, net)

    def _split(self, batch: Batch, item: Item, account: AccountProfile, c: Charge,
               net: Decimal) -> list[tuple[str, Decimal, Decimal]]:
        tx = batch.tx
        sub = item.event.subscriber
        period = item.post_period
        shares: list[tuple[str, Decimal, Decimal]] = []
        holder = account
        left_net, left_tax = net, c.tax
        visited = {holder.id}
        while True:
            policy = holder.split
            if (policy is None or policy.payer in visited
                    or (policy.item_types is not None
                        and base_item_type(c.item_type) not in policy.item_types)
                    or left_net <= 0):
                break
            moved = left_net
            if policy.cap is not None:
                key = cap_key(holder.id, period)
                room = policy.cap - tx.counter(key)
                if moved > room:
                    moved = room if room > 0 else _ZERO
                if moved:
                    tx.add(item.effects, key, moved)
            if not moved:
                break
            moved_tax = moved * c.tax_rate if moved != left_net else left_tax
            payer = self.profiles.account(policy.payer)
            if payer is None:
                payer_id = policy.payer
                currency = holder.currency
            else:
                payer_id = payer.id
                currency = payer.currency
            for item_type, amount in ((c.item_type, moved), ("tax", moved_tax)):
                if amount:
                    tx.post(item.effects, (holder.id, sub, item_type, period, holder.currency),
                            -amount)
                    tx.post(item.effects, (payer_id, sub, item_type, period, currency), amount)
            shares.append((holder.id, left_net - moved, left_tax - moved_tax))
            left_net, left_tax = moved, moved_tax
            visited.add(payer_id)
            if payer is None:
                holder = AccountProfile(payer_id, currency=currency)
                break
            holder = payer
        shares.append((holder.id, left_net, left_tax))
        return [s for s in shares if s[1] or s[2]] or [(account.id, net, c.tax)]


class _CreditKeys:
    """One account's credit-control keys in one period (built once, then looked up)."""

    __slots__ = ("account", "balance", "counter", "debt", "debt_flag", "exhausted", "floor",
                 "levels", "lowest", "spend", "top_ups")

    def __init__(self, account: AccountProfile, period: str,
                 levels: tuple[tuple[Decimal, Decimal], ...]) -> None:
        self.account = account
        aid = account.id
        #: the prepaid balance, its debt, and the period's postpaid spend
        self.balance = balance_key(aid)
        self.debt = debt_key(aid)
        self.spend = spend_key(aid, period)
        self.top_ups = top_up_key(aid, period)
        #: the counter the account's own charges move (balance or spend)
        self.counter = self.balance if account.prepaid else self.spend
        #: the lowest the balance may go (0, or minus the overdraft limit)
        self.floor = -account.overdraft_limit
        self.exhausted = notification_flag(aid, period, "exhausted")
        #: the prefix of the once-per-event debt notification flag (event id follows)
        self.debt_flag = notification_flag(aid, period, "debt|")
        #: ``(percent, amount, flag key)`` per threshold (postpaid with a credit limit)
        self.levels = tuple((pct, level, notification_flag(aid, period, pct))
                            for pct, level in levels)
        #: the lowest level: below it, nothing to check
        self.lowest = min((level for _, level in levels), default=None)


class CreditControl:
    """Prepaid balances and postpaid credit limits with once-per-cycle notifications.

    Postpaid: spend per account and period (``spend|<account>|<period>``); each threshold
    (percent of the credit limit) notifies exactly once per cycle (a set-once flag), whatever
    the order of events and however often the stream is replayed. Prepaid: the balance
    (``bal|<account>``) is debited down to its floor (0, or minus the account's
    ``overdraft_limit``); ``balance-exhausted`` notifies once per cycle when it reaches 0.
    What a charge needs beyond the floor (usage posted offline, which no reservation
    limited) is debt (``debt|<account>``); ``prepaid-debt`` notifies when the account falls
    into debt (again after a top-up cleared it; replays and reratings do not notify again).
    Item types in the account's ``postpaid_items`` (a hybrid account) go to the spend
    instead. Payments lower the spend; top-ups repay the debt first, then credit the
    balance, and add to the period's ``topup|<account>|<period>``. The balances, debts and
    spends of a batch are read from the store in one call.
    """

    __slots__ = ("_keys", "_levels", "profiles")
    name = "credit_control"
    needs = ("split",)
    provides = ("controlled",)

    def __init__(self, profiles: ProfileCache) -> None:
        self.profiles = profiles
        self._levels: dict[tuple[Decimal, tuple[Decimal, ...]],
                           tuple[tuple[Decimal, Decimal], ...]] = {}
        # period -> account id -> its keys
        self._keys: dict[str, dict[str, _CreditKeys]] = {}

    def _keys_of(self, account: AccountProfile, period: str) -> _CreditKeys:
        by_account = self._keys.get(period)
        if by_account is None:
            if len(self._keys) > 64:  # bounded: a few cycles are ever live
                self._keys.clear()
            by_account = self._keys[period] = {}
        found = by_account.get(account.id)
        if found is not None and found.account is account:
            return found
        limit = account.credit_limit
        levels: tuple[tuple[Decimal, Decimal], ...] = ()
        if limit is not None and (not account.prepaid or account.postpaid_items):
            found_levels = self._levels.get((limit, account.thresholds))
            if found_levels is None:
                found_levels = tuple((pct, limit * pct / _HUNDRED) for pct in account.thresholds)
                self._levels[(limit, account.thresholds)] = found_levels
            levels = found_levels
        found = by_account[account.id] = _CreditKeys(account, period, levels)
        return found

    def __call__(self, batch: Batch) -> None:
        """Move balances and spends; notify."""
        tx = batch.tx
        items = batch.items
        keys_of = self._keys_of
        all_keys = self._keys
        view = tx.view
        if view is None:  # read the balances, debts and spends of the batch in one store call
            wanted: list[str] = []
            for item in items:
                ks = keys_of(item.account, item.post_period)  # type: ignore[arg-type]
                wanted.append(ks.counter)
                if ks.account.prepaid:
                    wanted.append(ks.debt)
                    if ks.account.postpaid_items:
                        wanted.append(ks.spend)
                if type(item.event) is PaymentEvent:
                    wanted.append(ks.top_ups)
            tx.prefetch(wanted)
        values = tx.values
        deltas = tx.changes.counters
        for item in items:
            e = item.event
            account = item.account
            assert account is not None
            by_account = all_keys.get(item.post_period)
            k = by_account.get(account.id) if by_account is not None else None
            if k is None or k.account is not account:
                k = keys_of(account, item.post_period)
            if type(e) is PaymentEvent:
                if e.payment_type == "top_up":
                    tx.add(item.effects, k.top_ups, e.amount)
                    self._credit(batch, item, k, e.amount)
                else:
                    tx.add(item.effects, k.spend, -e.amount)
                continue
            for c in item.charges:
                for account_id, net, tax in c.shares:
                    amount = net + tax
                    if not amount:
                        continue
                    if account_id != account.id:  # a payer's share (split)
                        payer = self.profiles.account(account_id)
                        if payer is not None:
                            self._charge(batch, item, keys_of(payer, item.post_period),
                                         c.item_type, amount)
                        continue
                    if account.prepaid and (amount < 0 or base_item_type(c.item_type)
                                            in account.postpaid_items):
                        self._charge(batch, item, k, c.item_type, amount)
                        continue
                    # the account's own share: inlined _charge
                    key = k.counter
                    value = values.get(key)
                    if value is None:
                        value = view.get(key, _ZERO) if view is not None else tx.counter(key)
                    if account.prepaid:
                        if value - amount < k.floor:  # beyond the floor: part is debt
                            self._debit(batch, item, k, amount)
                            continue
                        amount = -amount
                    value += amount
                    values[key] = value
                    deltas[key] = deltas.get(key, _ZERO) + amount
                    item.effects.append(CounterMoves((key, amount)))
                    if account.prepaid:
                        if value <= 0:
                            self._notify(batch, item, k, value)
                    elif k.lowest is not None and value >= k.lowest:
                        self._notify(batch, item, k, value)

    def _charge(self, batch: Batch, item: Item, k: _CreditKeys, item_type: str,
                amount: Decimal) -> None:
        """Debit a balance or add to a spend, then notify if a level is reached."""
        acct = k.account
        if not acct.pays_from_balance(item_type):
            value = batch.tx.add(item.effects, k.spend, amount)
            if k.lowest is not None and value >= k.lowest:
                self._notify(batch, item, k, value, postpaid=True)
        elif amount < 0:  # a credit (a refund, a negative correction): like a top-up
            self._credit(batch, item, k, -amount)
        else:
            self._debit(batch, item, k, amount)

    def _debit(self, batch: Batch, item: Item, k: _CreditKeys, amount: Decimal) -> None:
        """Pay ``amount`` from the balance down to its floor; the rest is debt, notified."""
        tx = batch.tx
        value = tx.counter(k.balance)
        # at the floor already (an account in debt): all of it is debt, nothing to split
        paid, debt = (_ZERO, amount) if value <= k.floor else split_debit(value, amount, k.floor)
        if paid:
            value = tx.add(item.effects, k.balance, -paid)
        if debt:
            before = tx.counter(k.debt)
            owed = tx.add(item.effects, k.debt, debt)
            tx.set_flag(k.exhausted)  # the debt notice says more than "exhausted" would
            # notify when the account falls into debt (once per event id: a rerating of it
            # stays silent); while it stays in debt the counter and the ledger say the rest
            if before <= 0 and tx.set_flag(k.debt_flag + item.event.id):
                batch.notifications.append(Notification(
                    k.account.id, item.post_period, "prepaid-debt", k.floor, owed,
                    k.account.overdraft_limit, item.event.id))
        elif value <= 0:
            self._notify(batch, item, k, value)

    @staticmethod
    def _credit(batch: Batch, item: Item, k: _CreditKeys, amount: Decimal) -> None:
        """A top-up or credit of ``amount`` > 0: repay the debt first, then the balance."""
        tx = batch.tx
        debt = tx.counter(k.debt)
        repaid, rest = split_credit(debt, amount) if debt else (_ZERO, amount)
        if repaid:
            tx.add(item.effects, k.debt, -repaid)
        if rest:
            tx.add(item.effects, k.balance, rest)

    @staticmethod
    def _notify(batch: Batch, item: Item, k: _CreditKeys, value: Decimal, *,
                postpaid: bool = False) -> None:
        """Notifications for a balance or spend ``value`` (each flag once per cycle)."""
        tx = batch.tx
        acct = k.account
        period = item.post_period
        if acct.prepaid and not postpaid:
            if tx.set_flag(k.exhausted):
                batch.notifications.append(Notification(
                    acct.id, period, "balance-exhausted", _ZERO, value, _ZERO, item.event.id))
            return
        limit = acct.credit_limit
        assert limit is not None
        for pct, level, flag in k.levels:
            if value >= level and tx.set_flag(flag):
                batch.notifications.append(Notification(
                    acct.id, period, "credit-threshold", pct, value, limit, item.event.id))


class Emit:
    """Build the rated records, claim every event id with its effects, call the sinks."""

    __slots__ = ("sinks",)
    name = "emit"
    needs = ("controlled",)
    provides = ("emitted",)

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks = tuple(sinks)

    def __call__(self, batch: Batch) -> None:
        """Emit and claim."""
        tx = batch.tx
        claims = tx.changes.claims
        local = tx.local_fingerprints
        rated = batch.rated
        for item in batch.items:
            e = item.event
            account = item.account
            assert account is not None
            if item.charges:
                if type(e) is UsageEvent:
                    rated.append(RatedRecord(e.id, "usage", account.id, e.subscriber,
                                             item.post_period, account.currency, item.charges,
                                             e.start, e.usage_type, e.quantity))
                else:
                    rated.append(RatedRecord(e.id, e.kind, account.id, e.subscriber,
                                             item.post_period, account.currency, item.charges,
                                             e.start, e.kind, _ZERO))
            # inlined LedgerTransaction.claim
            claims[e.id] = Claim(e.id, local_fingerprint(e) if local else item.fingerprint,
                                 item.effects)
        for sink in self.sinks:
            sink(rated, batch.notifications)
