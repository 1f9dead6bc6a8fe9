"""The ``credit_control`` step: balances, spending limits, debt and notifications."""

from __future__ import annotations

from decimal import Decimal

from telcoflow.accounts import AccountProfile, ProfileCache
from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.prepaid import split_credit, split_debit
from telcoflow.billing.steps._shared import (
    _HUNDRED,
    _ZERO,
)
from telcoflow.events import (
    Notification,
    PaymentEvent,
    base_item_type,
)
from telcoflow.ledger import (
    CounterMoves,
    balance_key,
    debt_key,
    notification_flag,
    spend_key,
    top_up_key,
)


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
