"""The ``enrich`` step: each event's account and subscriber profiles, and its period."""

from __future__ import annotations

from telcoflow.accounts import ProfileCache
from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.steps._shared import (
    LatePolicy,
)
from telcoflow.errors import DefinitionError
from telcoflow.events import (
    FeeEvent,
    PaymentEvent,
)
from telcoflow.ledger import (
    closed_flag,
)
from telcoflow.periods import PeriodResolver, next_period


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
