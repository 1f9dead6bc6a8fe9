"""Accounts and subscribers: the customer profiles every layer reads (a bottom value layer).

The host owns customer data; the ``enrich`` step reads it through :class:`ProfileCache` (one
dictionary lookup on the hot path). :class:`DictProfiles` is the in-memory implementation.

Allowances (buckets) are units included in an offer, consumed before money, by priority: an
:class:`SubscriberAllowance` covers some usage types (and optionally some zones); its used
units are kept per subscriber and period in a counter ``alw|<subscriber>|<name>|<period>``,
so they reset each cycle and are undone by rerating like any other effect. (The catalog's
:class:`telcoflow.catalog.Allowance` is the product definition it is compiled from.)

(These were in ``billing.profiles`` and ``rating.allowances`` before; this is their one home.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from telcoflow.errors import DefinitionError
from telcoflow.events import base_item_type
from telcoflow.money import shown

__all__ = [
    "AccountProfile",
    "SubscriberAllowance",
    "DictProfiles",
    "DiscountRule",
    "ProfileCache",
    "SplitPolicy",
    "SubscriberProfile",
]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SubscriberAllowance:
    """``units`` of ``usage_types`` included per cycle; lower ``priority`` is used first.

    ``zones`` limits the allowance to some zones (``None``: every zone).
    """

    name: str
    units: Decimal
    usage_types: frozenset[str]
    zones: frozenset[str] | None = None
    priority: int = 0

    def covers(self, usage_type: str, zone: str) -> bool:
        """Whether usage of ``usage_type`` in ``zone`` draws on this allowance."""
        return usage_type in self.usage_types and (self.zones is None or zone in self.zones)


@dataclass(frozen=True, slots=True)
class SplitPolicy:
    """``payer`` pays this account's charges of ``item_types`` (``None``: all) up to ``cap``.

    ``cap`` is a net amount per period (``None``: no cap); whatever is above it, or of other
    item types, stays with the account itself. The payer may have its own policy
    (hierarchical accounts): the share moved to it is split again.
    """

    payer: str
    item_types: frozenset[str] | None = None
    cap: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DiscountRule:
    """``percent`` off charges of ``item_types``, at most ``cap`` per account and period."""

    name: str
    percent: Decimal
    item_types: frozenset[str]
    cap: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountProfile:
    """A billing account (TMF666): prepaid or postpaid, cycle, limits, taxes, discounts.

    A prepaid account pays from its balance down to ``-overdraft_limit``; a hybrid one
    bills ``postpaid_items`` postpaid.
    """

    id: str
    prepaid: bool = False
    bill_cycle_day: int = 1
    currency: str = "EUR"
    credit_limit: Decimal | None = None
    thresholds: tuple[Decimal, ...] = (Decimal(80), Decimal(100))
    tax_rates: Mapping[str, Decimal] = field(default_factory=dict)
    discounts: tuple[DiscountRule, ...] = ()
    split: SplitPolicy | None = None
    #: prepaid: how far the balance may go below zero (0: never below zero); charges beyond
    #: it are debt (see :mod:`telcoflow.billing.prepaid`)
    overdraft_limit: Decimal = _ZERO
    #: prepaid: item types billed postpaid instead of paid from the balance (a hybrid
    #: account: prepaid usage, postpaid fees; :func:`telcoflow.billing.prepaid.funding`)
    postpaid_items: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.overdraft_limit, Decimal) or not self.overdraft_limit >= 0:
            raise DefinitionError(
                f"account {self.id}: `overdraft_limit` must be a Decimal >= 0 (got "
                f"{shown(self.overdraft_limit)})")

    def pays_from_balance(self, item_type: str) -> bool:
        """Whether charges of ``item_type`` are paid from the prepaid balance."""
        return self.prepaid and base_item_type(item_type) not in self.postpaid_items

    def tax_rate(self, item_type: str) -> Decimal:
        """The tax rate for ``item_type`` (falls back to the ``"*"`` entry, then 0)."""
        rate = self.tax_rates.get(item_type)
        if rate is None:
            rate = self.tax_rates.get("*", _ZERO)
        return rate


@dataclass(frozen=True, slots=True)
class SubscriberProfile:
    """A subscriber (a line, a SIM): its account, offer and allowances (kept by priority)."""

    id: str
    account: AccountProfile
    offer: str = ""
    allowances: tuple[SubscriberAllowance, ...] = ()
    segment: str = ""

    def __post_init__(self) -> None:
        # allowances are used in priority order (lower first; stable for equal priorities)
        ordered = tuple(sorted(self.allowances, key=lambda a: a.priority))
        if ordered != self.allowances:
            object.__setattr__(self, "allowances", ordered)


@runtime_checkable
class ProfileCache(Protocol):
    """Where enrichment reads customer data (the host's cache, a dict, Redis...)."""

    def subscriber(self, subscriber_id: str) -> SubscriberProfile | None:
        """The subscriber's profile, or ``None`` if unknown."""
        ...

    def account(self, account_id: str) -> AccountProfile | None:
        """The account's profile, or ``None`` if unknown."""
        ...


class DictProfiles:
    """An in-memory :class:`ProfileCache`."""

    def __init__(
        self,
        accounts: Iterable[AccountProfile] = (),
        subscribers: Iterable[SubscriberProfile] = (),
    ) -> None:
        self._accounts = {a.id: a for a in accounts}
        self._subscribers = {s.id: s for s in subscribers}
        for sub in self._subscribers.values():
            self._accounts.setdefault(sub.account.id, sub.account)

    def add(self, *profiles: AccountProfile | SubscriberProfile) -> None:
        """Add or replace accounts and subscribers."""
        for p in profiles:
            if isinstance(p, SubscriberProfile):
                self._subscribers[p.id] = p
                self._accounts.setdefault(p.account.id, p.account)
            else:
                self._accounts[p.id] = p

    def subscriber(self, subscriber_id: str) -> SubscriberProfile | None:
        """The subscriber's profile, or ``None``."""
        return self._subscribers.get(subscriber_id)

    def account(self, account_id: str) -> AccountProfile | None:
        """The account's profile, or ``None``."""
        return self._accounts.get(account_id)

    def accounts(self) -> list[AccountProfile]:
        """Every account."""
        return list(self._accounts.values())

    def subscribers(self) -> list[SubscriberProfile]:
        """Every subscriber."""
        return list(self._subscribers.values())
