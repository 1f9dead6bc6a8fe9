"""The in-memory ledger store: dictionaries, for tests, benchmarks and short-lived runs.

It is shaped so that Python's garbage collector does not walk it as it grows (a store of
one tracked tuple or list per claim makes every full collection walk every claim, and the
cost per event grows as the store fills):

- ledger lines and counters are dictionaries of Decimals (amounts and quantities by line
  key; values by counter key): atomic values, never walked;
- claims are kept in segments of about 1,024: two tuples, fingerprints and effects, whose
  contents are strings and tuples of strings and Decimals, so the collector stops tracking
  them after its first passes; the claim index maps each event id to an ``int`` position
  (segment, index), which keeps that dictionary untracked too.

The store lives and dies with its process, so it takes *local* fingerprints
(``local_fingerprints = True``): the graph claims events with
:func:`~telcoflow.events.local_fingerprint`, a hash of the payload fields, a tenth of the
cost of the digest of :func:`~telcoflow.events.fingerprint`. A claim replaced by a later
change set (rerating) leaves its old entry in its tuple.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from telcoflow.ledger import (
    ChangeSet,
    Claim,
    DeadLetter,
    Effect,
    LedgerLine,
    LineKey,
)
from telcoflow.money import in_money_context

__all__ = ["MemoryLedgerStore"]

_ZERO = Decimal(0)
_LOW = (1 << 32) - 1
_SEGMENT = 1024


class MemoryLedgerStore:
    """A :class:`~telcoflow.ledger.LedgerStore` kept in dictionaries (not durable)."""

    #: claims may carry process-local fingerprints (see ``telcoflow.events``)
    local_fingerprints = True

    def __init__(self) -> None:
        self._amounts: dict[LineKey, Decimal] = {}
        self._quantities: dict[LineKey, Decimal] = {}
        self._counters: dict[str, Decimal] = {}
        #: the committed counters, to read only (see ``telcoflow.ledger``)
        self.counter_view: Mapping[str, Decimal] = self._counters
        self._flags: set[str] = set()
        # event id -> (change set number << 32) + its index in that change set's tuples
        self._claims: dict[str, int] = {}
        # closed segments of about _SEGMENT claims: (fingerprints, effects) tuples
        self._journal: list[tuple[tuple[str, ...], tuple[tuple[Effect, ...], ...]]] = []
        # the open segment (lists, closed into tuples once they hold _SEGMENT claims)
        self._open: tuple[list[str], list[tuple[Effect, ...]]] = ([], [])
        self._dead: dict[tuple[str, str], DeadLetter] = {}

    def get_claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims that exist among ``event_ids``."""
        claims = self._claims
        journal = self._journal
        out: dict[str, Claim] = {}
        for i in event_ids:
            found = claims.get(i)
            if found is not None:
                segment = found >> 32
                fps, effects = journal[segment] if segment < len(journal) else self._open
                at = found & _LOW
                out[i] = Claim(i, fps[at], list(effects[at]))
        return out

    def get_counters(self, keys: Iterable[str]) -> dict[str, Decimal]:
        """Current values of the counters that exist among ``keys``."""
        counters = self._counters
        return {k: counters[k] for k in keys if k in counters}

    def get_flags(self, keys: Iterable[str]) -> set[str]:
        """The flags that are set among ``keys``."""
        return self._flags.intersection(keys)

    @in_money_context
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
        if changes.claims:
            claimed = changes.claims
            fps, effects = self._open
            first = (len(self._journal) << 32) + len(fps)
            self._claims.update(zip(claimed, range(first, first + len(claimed)), strict=True))
            fps.extend([c.fingerprint for c in claimed.values()])
            effects.extend([tuple(c.effects) for c in claimed.values()])
            if len(fps) >= _SEGMENT:
                self._journal.append((tuple(fps), tuple(effects)))
                self._open = ([], [])
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
