"""The ledger's shared types: lines, effects, counter keys and the store protocol.

This module sits at the bottom of the package (it imports nothing from telcoflow): the
real-time graph builds effects with it, every backend in :mod:`telcoflow.stores` stores them,
and the cycle close and audits read its lines.

**Effects** are what one event did to the ledger, kept with its claim so rerating can
reverse it: a :class:`Posting` (an amount and a quantity added to a ledger line) or a
:class:`CounterMoves` (one or more counters moved). Both are tuples underneath (cheap to
build on the hot path); test them with ``type(effect) is Posting``.

**Keys**: every counter and flag key is built by one function of this module
(:func:`balance_key`, :func:`period_usage_keys`, ...), so a key kind has one spelling.

**The store protocol** (:class:`LedgerStore`, small, like an httpx transport). A backend
stores five things:

- **ledger lines**: running sums keyed by ``(account, subscriber, item_type, period,
  currency)`` with an amount and a quantity;
- **counters**: named running Decimals (allowance units used, prepaid balances, split and
  discount caps, postpaid spend), keyed by strings such as ``bal|acc-1``;
- **flags**: set-once keys (a notification sent, a period closed);
- **claims**: one per event id: the payload fingerprint and the effects the event had (so
  rerating can reverse them);
- **dead letters**: rejected events with their reason.

A backend living in one process only may set a class attribute
``local_fingerprints = True`` (optional, not part of the protocol): the graph then claims
events with :func:`~telcoflow.events.local_fingerprint` (a cheap in-process hash) instead
of the portable digest; the in-memory store does. A backend that keeps its committed
counters in a dictionary in this process may expose it read-only as ``counter_view`` (a
``Mapping[str, Decimal]``, also optional): a transaction then reads counters from it
directly instead of batching :meth:`LedgerStore.get_counters` calls; the memory and SQLite
stores do.

Writes arrive as one :class:`ChangeSet` per batch through :meth:`LedgerStore.apply`, which
must be atomic: the claims of a batch and its ledger writes commit together or not at all
(that is what makes the effect of an event exactly-once). Ledger and counter changes are
*deltas*, so a multi-writer backend (PostgreSQL) can add them in SQL. When
``ChangeSet.journaled`` is true the deltas are exactly the sum of the claims' effects, and a
backend may make only the claims durable at once (a journal) and fold the sums into its
tables later, replaying the journal after a crash (the SQLite store does).

The behaviour suite in ``tests/stores/test_stores_behaviour.py`` is parametrized over backends;
a new backend passes it to be accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import Protocol, TypeGuard, runtime_checkable

__all__ = [
    "Claim",
    "ChangeSet",
    "CounterMoves",
    "DeadLetter",
    "Effect",
    "LedgerLine",
    "LedgerStore",
    "LineKey",
    "Posting",
    "allowance_key",
    "balance_key",
    "cap_key",
    "closed_flag",
    "connect_key",
    "debt_key",
    "decode_effects",
    "discount_cap_key",
    "encode_effects",
    "notification_flag",
    "period_usage_keys",
    "spend_key",
    "storable_id",
    "storable_text",
    "top_up_key",
]

#: ``(account, subscriber, item_type, period, currency)``
LineKey = tuple[str, str, str, str, str]



class Posting(tuple[LineKey, Decimal, Decimal]):
    """An effect: ``amount`` and ``quantity`` added to ledger line ``key``.

    Build it as ``Posting((key, amount, quantity))`` (a tuple: cheap on the hot path).

    >>> p = Posting((("acc-1", "sub-1", "data", "2026-11", "EUR"), Decimal("1.25"), Decimal(25)))
    >>> p.amount, p.moved_to("2026-12").key[3]
    (Decimal('1.25'), '2026-12')
    """

    __slots__ = ()

    key: LineKey = property(itemgetter(0))  # type: ignore[assignment]
    amount: Decimal = property(itemgetter(1))  # type: ignore[assignment]
    quantity: Decimal = property(itemgetter(2))  # type: ignore[assignment]

    def moved_to(self, period: str) -> Posting:
        """The same posting on the line of another ``period``."""
        k = self[0]
        return Posting(((k[0], k[1], k[2], period, k[4]), self[1], self[2]))

    def __repr__(self) -> str:
        return f"Posting({self[0]!r}, {self[1]!s}, {self[2]!s})"


class CounterMoves(tuple[str | Decimal, ...]):
    """An effect: counters moved, as alternating keys and deltas.

    Build it as ``CounterMoves((key, delta, key, delta, ...))``: the ``rate`` step moves an
    allowance and the period's two usage counters in one effect.

    >>> list(CounterMoves(("bal|acc-1", Decimal("-2.50"))).pairs())
    [('bal|acc-1', Decimal('-2.50'))]
    """

    __slots__ = ()

    def pairs(self) -> Iterator[tuple[str, Decimal]]:
        """The ``(key, delta)`` pairs."""
        for i in range(0, len(self), 2):
            key, delta = self[i], self[i + 1]
            assert isinstance(key, str)
            assert isinstance(delta, Decimal)
            yield key, delta

    def __repr__(self) -> str:
        return "CounterMoves(" + ", ".join(f"{k}: {d}" for k, d in self.pairs()) + ")"


#: what one event did: ledger postings and counter moves
Effect = Posting | CounterMoves


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One ledger line: the running sum for an account, subscriber, item type and period."""

    account: str
    subscriber: str
    item_type: str
    period: str
    currency: str
    amount: Decimal
    quantity: Decimal


@dataclass(slots=True)
class Claim:
    """An event id claimed by the ledger: its fingerprint and its effects.

    ``effects`` holds :class:`Posting` and :class:`CounterMoves` effects; rerating posts
    their negatives to reverse the event.
    """

    event_id: str
    fingerprint: str
    effects: list[Effect] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected event: its id, reason code, message and payload text."""

    event_id: str
    reason: str
    message: str
    fingerprint: str = ""
    payload: str = ""


@dataclass(slots=True)
class ChangeSet:
    """Everything one batch changes; applied atomically by :meth:`LedgerStore.apply`."""

    ledger: dict[LineKey, list[Decimal]] = field(default_factory=dict)
    counters: dict[str, Decimal] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    claims: dict[str, Claim] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    #: True when the ledger and counter deltas are exactly the sum of the new claims'
    #: effects, so a backend may journal the claims and fold the sums in later
    journaled: bool = False

    def is_empty(self) -> bool:
        """True when nothing would change."""
        return not (self.ledger or self.counters or self.flags or self.claims
                    or self.dead_letters)


@runtime_checkable
class LedgerStore(Protocol):
    """What a ledger backend implements: batch reads, one atomic write, and queries."""

    def get_claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims that exist among ``event_ids``."""
        ...

    def get_counters(self, keys: Iterable[str]) -> dict[str, Decimal]:
        """Current values of the counters that exist among ``keys``."""
        ...

    def get_flags(self, keys: Iterable[str]) -> set[str]:
        """The flags that are set among ``keys``."""
        ...

    def apply(self, changes: ChangeSet) -> None:
        """Apply a change set atomically (all or nothing); raise ``StoreError`` on failure."""
        ...

    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally for one account and / or one period, sorted by key."""
        ...

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        ...

    def claim_count(self) -> int:
        """How many event ids are claimed."""
        ...

    def close(self) -> None:
        """Release resources (files, connections)."""
        ...


_US = "\x1f"
_RS = "\x1e"


def encode_effects(effects: Sequence[Effect], key_text: dict[object, str] | None = None) -> str:
    """Encode claim effects as compact text (unit / record separators; exact decimals).

    ``key_text`` optionally caches the text of ledger keys across calls (a backend keeps
    one per store: there are far fewer ledger lines than events).
    """
    cache: dict[object, str] = {} if key_text is None else key_text
    records = []
    for effect in effects:
        if type(effect) is Posting:
            k = effect[0]
            text = cache.get(k)
            if text is None:
                text = cache[k] = _US.join(k)
                if len(cache) > 1_000_000:  # bounded: restart the cache
                    cache.clear()
            records.append(f"L\x1f{text}\x1f{effect[1]!s}\x1f{effect[2]!s}")
        elif len(effect) == 2:
            records.append(f"C\x1f{effect[0]}\x1f{effect[1]!s}")
        else:
            records.append("C\x1f" + _US.join(map(str, effect)))
    return _RS.join(records)


def decode_effects(text: str) -> list[Effect]:
    """Decode :func:`encode_effects` text back into effects."""
    if not text:
        return []
    out: list[Effect] = []
    for record in text.split(_RS):
        parts = record.split(_US)
        if parts[0] == "L":
            key = (parts[1], parts[2], parts[3], parts[4], parts[5])
            out.append(Posting((key, Decimal(parts[6]), Decimal(parts[7]))))
        else:
            out.append(CounterMoves(Decimal(p) if i % 2 else p for i, p in enumerate(parts[1:])))
    return out


def storable_id(value: object, limit: int = 256) -> TypeGuard[str]:
    """Whether ``value`` can be kept as an event id as it is: text of at most ``limit``
    characters that any store can keep as UTF-8 (no lone surrogates). Anything else is
    recorded by its printable form (see :func:`storable_text`)."""
    return type(value) is str and len(value) <= limit and storable_text(value, limit) == value


def storable_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with lone surrogates escaped: what any store can
    keep as UTF-8 (dead-letter ids, messages and payloads come from untrusted input)."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# -- counter and flag keys: one builder per kind ------------------------------------------

def allowance_key(subscriber: str, name: str, period: str) -> str:
    """The counter of the units used of allowance ``name`` in ``period``."""
    return f"alw|{subscriber}|{name}|{period}"


def balance_key(account: str) -> str:
    """The counter of a prepaid account's balance."""
    return f"bal|{account}"


def debt_key(account: str) -> str:
    """The counter of a prepaid account's debt (charges beyond its floor)."""
    return f"debt|{account}"


def top_up_key(account: str, period: str) -> str:
    """The counter of the top-ups a prepaid account received in ``period`` (a statement's
    money in)."""
    return f"topup|{account}|{period}"


def spend_key(account: str, period: str) -> str:
    """The counter of a postpaid account's spend in ``period`` (credit control)."""
    return f"spend|{account}|{period}"


def period_usage_keys(scope: str, counter: str, period: str) -> tuple[str, str]:
    """The counter keys of a period-priced tariff: charged units, and amount posted.

    ``scope`` is the subscriber (or, for a shared plan, the account) whose usage the tiers
    count; ``counter`` the tariff and rate (``data|-``); ``period`` the usage's period.
    """
    return f"use|{scope}|{counter}|{period}", f"usd|{scope}|{counter}|{period}"


def connect_key(subscriber: str, session: str, period: str) -> str:
    """The counter marking that a session's connect fee was charged in ``period``."""
    return f"con|{subscriber}|{session}|{period}"


def discount_cap_key(account: str, discount: str, period: str) -> str:
    """The counter of what capped discount ``discount`` gave ``account`` in ``period``."""
    return f"dsc|{account}|{discount}|{period}"


def cap_key(holder: str, period: str) -> str:
    """The counter of what a payer took over for ``holder`` under a capped split policy."""
    return f"cap|{holder}|{period}"


def closed_flag(account: str, period: str) -> str:
    """The flag marking ``period`` of ``account`` closed."""
    return f"closed|{account}|{period}"


def notification_flag(account: str, period: str, what: object = "") -> str:
    """The flag of a credit-control notification sent to ``account`` in ``period``:
    ``what`` is a threshold percent, ``exhausted``, or ``debt|`` (then the event id follows)."""
    return f"ntf|{account}|{period}|{what}"
