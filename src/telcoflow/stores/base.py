"""The ledger store protocol: what a backend implements (small, like an httpx transport).

A backend stores five things:

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
from typing import Protocol, TypeGuard, runtime_checkable

__all__ = [
    "Claim",
    "ChangeSet",
    "DeadLetter",
    "Effect",
    "storable_id",
    "storable_text",
    "LedgerLine",
    "LedgerStore",
    "LineKey",
    "counter_pairs",
    "decode_effects",
    "encode_effects",
]

#: ``(account, subscriber, item_type, period, currency)``
LineKey = tuple[str, str, str, str, str]

#: ``("L", line_key, amount, quantity)`` for a ledger posting or ``("C", key, delta, ...)``
#: for counter changes (one or more key and delta pairs: the ``rate`` step moves a period's
#: two counters in one effect).
Effect = tuple[object, ...]


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

    ``effects`` holds ledger postings ``("L", key, amount, quantity)`` and counter changes
    ``("C", key, delta, ...)`` (one or more pairs); rerating posts their negatives to reverse
    the event.
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


def encode_effects(effects: Sequence[tuple[object, ...]],
                   key_text: dict[object, str] | None = None) -> str:
    """Encode claim effects as compact text (unit / record separators; exact decimals).

    ``key_text`` optionally caches the text of ledger keys across calls (a backend keeps
    one per store: there are far fewer ledger lines than events).
    """
    cache: dict[object, str] = {} if key_text is None else key_text
    records = []
    for effect in effects:
        if effect[0] == "L":
            k = effect[1]
            text = cache.get(k)
            if text is None:
                assert isinstance(k, tuple)
                text = cache[k] = "\x1f".join(k)
                if len(cache) > 1_000_000:  # bounded: restart the cache
                    cache.clear()
            records.append(f"L\x1f{text}\x1f{effect[2]!s}\x1f{effect[3]!s}")
        elif len(effect) == 3:
            records.append(f"C\x1f{effect[1]}\x1f{effect[2]!s}")
        else:
            records.append("C\x1f" + "\x1f".join(map(str, effect[1:])))
    return _RS.join(records)


def counter_pairs(effect: Effect) -> Iterator[tuple[str, Decimal]]:
    """The ``(key, delta)`` pairs of a counter effect ``("C", key, delta, ...)``."""
    for i in range(1, len(effect), 2):
        key, delta = effect[i], effect[i + 1]
        assert isinstance(key, str)
        assert isinstance(delta, Decimal)
        yield key, delta


def decode_effects(text: str) -> list[tuple[object, ...]]:
    """Decode :func:`encode_effects` text back into effect tuples."""
    if not text:
        return []
    out: list[tuple[object, ...]] = []
    for record in text.split(_RS):
        parts = record.split(_US)
        if parts[0] == "L":
            out.append(("L", tuple(parts[1:6]), Decimal(parts[6]), Decimal(parts[7])))
        else:
            out.append(("C", *(Decimal(p) if i % 2 else p for i, p in enumerate(parts[1:]))))
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
