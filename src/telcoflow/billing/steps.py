"""The steps of the default real-time graph.

validate -> deduplicate -> enrich -> rate -> ledger -> discount -> tax -> split ->
credit_control -> emit

Each step is a small class configured in ``__init__`` and working in ``__call__`` over a
whole batch, with ``__slots__``. Steps that reject an item send it to the dead letters
(``batch.reject``) and drop it from ``batch.items``; checks that can reject run before any
effect of the item is posted, so a rejected event leaves no trace but its dead letter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Literal

from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.periods import PeriodResolver, next_period
from telcoflow.billing.prepaid import balance_key, debt_key, split_credit, split_debit
from telcoflow.billing.profiles import AccountProfile, ProfileCache, SubscriberProfile
from telcoflow.billing.recurring import RecurringFees
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
    local_fingerprint,
    same_payload,
)
from telcoflow.rating.allowances import Allowance, allowance_key
from telcoflow.rating.rater import Rater, Tariff
from telcoflow.stores.base import Claim, LineKey

__all__ = [
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
    "closed_flag",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)

LatePolicy = Literal["next", "reject"]
Sink = Callable[[list[RatedRecord], list[Notification]], None]


def closed_flag(account: str, period: str) -> str:
    """The flag key marking ``period`` of ``account`` closed."""
    return f"closed|{account}|{period}"


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


class Validate:
    """Reject malformed events (reason ``invalid``), naming field, expectation and value."""

    __slots__ = ("usage_types",)
    name = "validate"
    needs = ("events",)
    provides = ("valid",)

    def __init__(self, usage_types: Iterable[str] = ("data", "voice", "sms")) -> None:
        self.usage_types = frozenset(usage_types)

    def problem(self, item: Item) -> str | None:
        """What is wrong with the item's event, or ``None``."""
        e = item.event
        if not e.id:
            return "`id` must not be empty"
        if isinstance(e, UsageEvent):
            q = e.quantity
            if not isinstance(q, Decimal) or not q.is_finite():
                return f"`quantity` must be a finite Decimal (got {q!r} in event {e.id})"
            if q < 0:
                return f"`quantity` must be >= 0 (got {q} in event {e.id})"
            if e.usage_type not in self.usage_types:
                return (f"`usage_type` must be one of {sorted(self.usage_types)} "
                        f"(got {e.usage_type!r} in event {e.id})")
            if not e.subscriber:
                return f"`subscriber` must not be empty (event {e.id})"
            return None
        if isinstance(e, FeeEvent):
            if e.fee_type not in FEE_TYPES:
                return (f"`fee_type` must be one of {sorted(FEE_TYPES)} (got {e.fee_type!r} "
                        f"in event {e.id})")
            if not isinstance(e.amount, Decimal) or not e.amount.is_finite():
                return f"`amount` must be a finite Decimal (got {e.amount!r} in event {e.id})"
            return None
        if isinstance(e, LifecycleEvent):
            if e.action not in LIFECYCLE_ACTIONS:
                return (f"`action` must be one of {sorted(LIFECYCLE_ACTIONS)} "
                        f"(got {e.action!r} in event {e.id})")
            return None
        if isinstance(e, PaymentEvent):
            if e.payment_type not in PAYMENT_TYPES:
                return (f"`payment_type` must be one of {sorted(PAYMENT_TYPES)} "
                        f"(got {e.payment_type!r} in event {e.id})")
            if not isinstance(e.amount, Decimal) or not e.amount > 0:
                return f"`amount` must be a Decimal > 0 (got {e.amount!r} in event {e.id})"
            return None
        return f"unknown event type {type(e).__name__}"

    def __call__(self, batch: Batch) -> None:
        """Keep the valid items."""
        keep = []
        usage_types = self.usage_types
        for item in batch.items:
            e = item.event
            # fast path for the common, well-formed usage event
            if (type(e) is UsageEvent and e.id and e.subscriber and e.usage_type in usage_types
                    and type(e.quantity) is Decimal and e.quantity.is_finite()
                    and e.quantity >= 0):
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
    """A tariff's cached results: quantity -> charged units; units -> amount.

    Tariffs are pure functions of their input (the :class:`~telcoflow.rating.rater.Tariff`
    contract), so the ``rate`` step remembers their results; each table is bounded.
    """

    __slots__ = ("amounts", "tariff", "units")

    LIMIT = 4096

    def __init__(self, tariff: Tariff) -> None:
        self.tariff = tariff  # keeps the tariff alive while it is cached by its id
        self.units: dict[Decimal, Decimal] = {}
        self.amounts: dict[Decimal, Decimal] = {}

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


class Rate:
    """Rate usage (allowances first, then the tariff's price); fees and lifecycle charges.

    Usage that cannot be rated is rejected (``unrateable``) before any allowance is used;
    fees in a currency other than the account's are rejected (``currency-mismatch``).
    Tariff results are cached per tariff (bounded); allowance counter keys per subscriber
    and period.
    """

    __slots__ = ("_alw_keys", "_memos", "fees", "rater")
    name = "rate"
    needs = ("profile", "period")
    provides = ("rated",)

    def __init__(self, rater: Rater, *, fees: RecurringFees | None = None) -> None:
        self.rater = rater
        self.fees = fees
        self._memos: dict[int, _Memo] = {}
        # period -> subscriber id -> (allowances, their counter keys, what each covers)
        self._alw_keys: dict[str, dict[str, _Buckets]] = {}

    def _memo(self, tariff: Tariff) -> _Memo:
        memo = self._memos.get(id(tariff))
        if memo is None or memo.tariff is not tariff:
            if len(self._memos) > 4096:
                self._memos.clear()
            memo = self._memos[id(tariff)] = _Memo(tariff)
        return memo

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
        keep = []
        items = batch.items
        view = tx.view
        if view is None:  # read the allowance counters of every item in one store call
            wanted: list[str] = []
            for item in items:
                sub = item.subscriber
                if sub is not None and sub.allowances and type(item.event) is UsageEvent:
                    wanted.extend(self._keys(sub, item.period)[1])
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
                    units = memo.units.get(e.quantity)
                    if units is None:
                        units = memo.charged_units(e.quantity)
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
                amount = memo.amounts.get(left)
                if amount is None:
                    try:
                        amount = memo.amount(left)
                    except RatingError as exc:  # e.g. above a price model's last tier
                        batch.reject(item, "unrateable", str(exc))
                        continue
                if takes:
                    effects = item.effects
                    for key, used, take in takes:  # inlined LedgerTransaction.add
                        values[key] = used + take
                        deltas[key] = deltas.get(key, _ZERO) + take
                        effects.append(("C", key, take))
                item.charges = [Charge(tariff.item_type, amount, units, units - left)]
            elif type(e) is FeeEvent:
                assert item.account is not None
                if e.currency != item.account.currency:
                    batch.reject(item, "currency-mismatch",
                                 f"event {e.id}: fee in {e.currency}, account "
                                 f"{item.account.id} bills in {item.account.currency}")
                    continue
                item.charges = [Charge(e.fee_type, e.amount, _ONE)]
            elif type(e) is LifecycleEvent and self.fees is not None:
                assert sub is not None
                try:
                    item.charges = self.fees.charges(e, sub)
                except RatingError as exc:
                    batch.reject(item, "unrateable", str(exc))
                    continue
            keep.append(item)
        batch.items = keep


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
                effects.append(("L", key, gross, quantity))


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
                    if c.item_type not in rule.item_types or c.gross <= 0:
                        continue
                    amount = c.gross * rule.percent / _HUNDRED
                    if rule.cap is not None:
                        key = f"dsc|{account.id}|{rule.name}|{item.post_period}"
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
    """Exclusive tax on each charge's net, by item type, posted as a ``tax`` line."""

    __slots__ = ("_keys",)
    name = "tax"
    needs = ("discounted",)
    provides = ("taxed",)

    def __init__(self) -> None:
        self._keys: dict[LineKey, LineKey] = {}

    def __call__(self, batch: Batch) -> None:
        """Compute and post the tax of every charge."""
        ledger = batch.tx.changes.ledger
        keys = self._keys
        for item in batch.items:
            account = item.account
            if account is None or not item.charges or not account.tax_rates:
                continue
            rates = account.tax_rates
            for c in item.charges:
                rate = rates.get(c.item_type)  # inlined AccountProfile.tax_rate
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
                    item.effects.append(("L", key, tax, _ZERO))


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
                    or (policy.item_types is not None and c.item_type not in policy.item_types)
                    or left_net <= 0):
                break
            moved = left_net
            if policy.cap is not None:
                key = f"cap|{holder.id}|{period}"
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
                 "levels", "lowest", "spend")

    def __init__(self, account: AccountProfile, period: str,
                 levels: tuple[tuple[Decimal, Decimal], ...]) -> None:
        self.account = account
        aid = account.id
        #: the prepaid balance, its debt, and the period's postpaid spend
        self.balance = balance_key(aid)
        self.debt = debt_key(aid)
        self.spend = f"spend|{aid}|{period}"
        #: the counter the account's own charges move (balance or spend)
        self.counter = self.balance if account.prepaid else self.spend
        #: the lowest the balance may go (0, or minus the overdraft limit)
        self.floor = -account.overdraft_limit
        self.exhausted = f"ntf|{aid}|{period}|exhausted"
        #: the prefix of the once-per-event debt notification flag (event id follows)
        self.debt_flag = f"ntf|{aid}|{period}|debt|"
        #: ``(percent, amount, flag key)`` per threshold (postpaid with a credit limit)
        self.levels = tuple((pct, level, f"ntf|{aid}|{period}|{pct}") for pct, level in levels)
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
    balance. The balances, debts and spends of a batch are read from the store in one call.
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
                    if account.prepaid and (amount < 0 or c.item_type in account.postpaid_items):
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
                    item.effects.append(("C", key, amount))
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
