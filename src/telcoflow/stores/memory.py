"""The in-memory ledger store: dictionaries, for tests, benchmarks and short-lived runs.

Everything it keeps for long is *atomic* for Python's garbage collector -- strings and
Decimals, no containers -- so the collector never walks it, however many events it holds
(a store of tuples and lists makes every full collection walk every claim, and the cost
per event grows as the store fills):

- ledger lines: two dictionaries, amounts and quantities, keyed by line key;
- claims: one string per event id, its fingerprint and its effects in the compact text of
  :func:`~telcoflow.stores.base.encode_effects`.

Fingerprints are deferred (``deferred_fingerprints``): the graph hands over claimed events,
and the store keeps their :func:`~telcoflow.events.local_fingerprint` (a hash of the payload
fields, valid in this process only, which is all this store lives for) instead of the
digest of :func:`~telcoflow.events.fingerprint`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from telcoflow.events import fingerprint
from telcoflow.stores.base import (
    ChangeSet,
    Claim,
    DeadLetter,
    LedgerLine,
    Effect,
    LineKey,
)

__all__ = ["MemoryLedgerStore"]

_ZERO = Decimal(0)
_GS = "\x1d"  # between a claim's fingerprint and its effects text


class MemoryLedgerStore:
    """A :class:`~telcoflow.stores.base.LedgerStore` kept in dictionaries (not durable)."""

    #: claims may carry their event instead of its fingerprint (see ``stores.base``)
    deferred_fingerprints = True

    def __init__(self) -> None:
        self._amounts: dict[LineKey, Decimal] = {}
        self._quantities: dict[LineKey, Decimal] = {}
        self._counters: dict[str, Decimal] = {}
        self._flags: set[str] = set()
        # event id -> (fingerprint or the event itself, effects)
        self._claims: dict[str, tuple[object, tuple[Effect, ...]]] = {}
        self._dead: dict[tuple[str, str], DeadLetter] = {}

    def get_claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims that exist among ``event_ids``."""
        claims = self._claims
        out: dict[str, Claim] = {}
        for i in event_ids:
            found = claims.get(i)
            if found is not None:
                fp = found[0]
                if not isinstance(fp, str):
                    fp = fingerprint(fp)  # type: ignore[arg-type]
                out[i] = Claim(i, fp, list(found[1]))
        return out

    def get_counters(self, keys: Iterable[str]) -> dict[str, Decimal]:
        """Current values of the counters that exist among ``keys``."""
        counters = self._counters
        return {k: counters[k] for k in keys if k in counters}

    def get_flags(self, keys: Iterable[str]) -> set[str]:
        """The flags that are set among ``keys``."""
        return self._flags.intersection(keys)

    def apply(self, changes: ChangeSet) -> None:
        """Apply a change set (cannot fail half-way: only dictionary updates)."""
        amounts, quantities = self._amounts, self._quantities
        for key, (amount, quantity) in changes.ledger.items():
            old = amounts.get(key)
            if old is None:
                amounts[key] = amount
                quantities[key] = quantity
            else:
                amounts[key] = old + amount
                if quantity:
                    quantities[key] += quantity
        counters = self._counters
        for ckey, delta in changes.counters.items():
            old = counters.get(ckey)
            counters[ckey] = delta if old is None else old + delta
        if changes.flags:
            self._flags.update(changes.flags)
        claims = self._claims
        for event_id, claim in changes.claims.items():
            claims[event_id] = (claim.fingerprint or claim.event, tuple(claim.effects))
        for dead in changes.dead_letters:
            self._dead.setdefault((dead.event_id, dead.fingerprint), dead)

    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally filtered, sorted by key."""
        quantities = self._quantities
        return [
            LedgerLine(*key, amount=amount, quantity=quantities[key])
            for key, amount in sorted(self._amounts.items())
            if (account is None or key[0] == account) and (period is None or key[3] == period)
        ]

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first (one per event id and payload)."""
        return list(self._dead.values())

    def claim_count(self) -> int:
        """How many event ids are claimed."""
        return len(self._claims)

    def close(self) -> None:
        """Nothing to release."""
