"""The in-memory ledger store: dictionaries, for tests, benchmarks and short-lived runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from telcoflow.events import Event, fingerprint
from telcoflow.stores.base import ChangeSet, Claim, DeadLetter, Effect, LedgerLine, LineKey

__all__ = ["MemoryLedgerStore"]

_ZERO = Decimal(0)


class MemoryLedgerStore:
    """A :class:`~telcoflow.stores.base.LedgerStore` kept in dictionaries (not durable).

    Fingerprints are deferred (``deferred_fingerprints``): a claim keeps its event and the
    fingerprint is computed only if the id is asked for again (a replay, a rerating). The
    events handed to :meth:`apply` must therefore not be mutated afterwards.
    """

    #: claims may carry their event instead of its fingerprint (see ``stores.base``)
    deferred_fingerprints = True

    def __init__(self) -> None:
        self._ledger: dict[LineKey, list[Decimal]] = {}
        self._counters: dict[str, Decimal] = {}
        self._flags: set[str] = set()
        # (fingerprint or event, effects) tuples
        self._claims: dict[str, tuple[str | Event, tuple[Effect, ...]]] = {}
        self._dead: dict[tuple[str, str], DeadLetter] = {}

    def get_claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims that exist among ``event_ids``."""
        claims = self._claims
        out: dict[str, Claim] = {}
        for i in event_ids:
            found = claims.get(i)
            if found is not None:
                fp = found[0]
                out[i] = Claim(i, fp if isinstance(fp, str) else fingerprint(fp), list(found[1]))
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
        ledger = self._ledger
        for key, (amount, quantity) in changes.ledger.items():
            line = ledger.get(key)
            if line is None:
                ledger[key] = [amount, quantity]
            else:
                line[0] += amount
                line[1] += quantity
        counters = self._counters
        for ckey, delta in changes.counters.items():
            counters[ckey] = counters.get(ckey, _ZERO) + delta
        self._flags.update(changes.flags)
        claims = self._claims
        for event_id, claim in changes.claims.items():
            fp = claim.fingerprint
            claims[event_id] = (fp or claim.event or fp, tuple(claim.effects))  # type: ignore[assignment]
        for dead in changes.dead_letters:
            self._dead.setdefault((dead.event_id, dead.fingerprint), dead)

    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally filtered, sorted by key."""
        return [
            LedgerLine(*key, amount=v[0], quantity=v[1])
            for key, v in sorted(self._ledger.items())
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
