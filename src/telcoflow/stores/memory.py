"""The in-memory stores: dictionaries, for tests, benchmarks and short-lived runs.

:class:`MemoryLedgerStore` (a :class:`~telcoflow.ledger.LedgerStore`) and
:class:`MemoryJourneyStore` (a :class:`~telcoflow.journeys.store.JourneyStore`). Both may be
shared by the threads of a process: each write (and each read that walks shared state) runs
under the store's lock.

The ledger store

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

import heapq
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal

from telcoflow.errors import ConcurrencyError, StoreError
from telcoflow.journeys.instance import JourneyInstance
from telcoflow.journeys.store import version_conflict
from telcoflow.ledger import (
    ChangeSet,
    Claim,
    DeadLetter,
    Effect,
    LedgerLine,
    LineKey,
)
from telcoflow.money import in_money_context

__all__ = ["MemoryJourneyStore", "MemoryLedgerStore"]

_ZERO = Decimal(0)
_LOW = (1 << 32) - 1
_SEGMENT = 1024


class MemoryLedgerStore:
    """A :class:`~telcoflow.ledger.LedgerStore` kept in dictionaries (not durable).

    Thread-safe: every read and write runs under one lock, so change sets applied from
    several threads add up (a read of ``counter_view``, one dictionary lookup, needs none).
    """

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
        self._lock = threading.Lock()

    def get_claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims that exist among ``event_ids``."""
        with self._lock:
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
        with self._lock:
            counters = self._counters
            return {k: counters[k] for k in keys if k in counters}

    def get_flags(self, keys: Iterable[str]) -> set[str]:
        """The flags that are set among ``keys``."""
        with self._lock:
            return self._flags.intersection(keys)

    @in_money_context
    def apply(self, changes: ChangeSet) -> None:
        """Apply a change set (cannot fail half-way: only dictionary updates)."""
        with self._lock:
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
                self._claims.update(
                    zip(claimed, range(first, first + len(claimed)), strict=True))
                fps.extend([c.fingerprint for c in claimed.values()])
                effects.extend([tuple(c.effects) for c in claimed.values()])
                if len(fps) >= _SEGMENT:
                    self._journal.append((tuple(fps), tuple(effects)))
                    self._open = ([], [])
            for dead in changes.dead_letters:
                self._dead.setdefault((dead.event_id, dead.fingerprint), dead)

    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        """Ledger lines, optionally filtered, sorted by key."""
        with self._lock:
            quantities = self._quantities
            return [
                LedgerLine(*key, amount=amount, quantity=quantities[key])
                for key, amount in sorted(self._amounts.items())
                if (account is None or key[0] == account) and (period is None or key[3] == period)
            ]

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first (one per event id and payload)."""
        with self._lock:
            return list(self._dead.values())

    def claim_count(self) -> int:
        """How many event ids are claimed."""
        return len(self._claims)

    def close(self) -> None:
        """Nothing to release."""


class MemoryJourneyStore:
    """A :class:`~telcoflow.journeys.store.JourneyStore` of private copies in a dict, with
    deadlines in a heap (tests, one process). Thread-safe: every call runs under one lock."""

    __slots__ = ("_due", "_lock", "_rows")

    def __init__(self) -> None:
        self._rows: dict[str, JourneyInstance] = {}
        self._due: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def create(self, instance: JourneyInstance) -> None:
        """Add a new instance (``ConcurrencyError`` if its id exists)."""
        self.create_many([instance])

    def create_many(self, instances: Sequence[JourneyInstance]) -> None:
        """Add new instances atomically (``ConcurrencyError`` if an id exists)."""
        ids = [i.id for i in instances]
        copies = [inst.copy() for inst in instances]
        with self._lock:
            taken = [iid for iid in ids if iid in self._rows]
            if taken or len(set(ids)) != len(ids):
                raise ConcurrencyError(f"instance(s) already exist: {taken or ids}")
            for copy in copies:
                self._put(copy)

    def _put(self, copy: JourneyInstance) -> None:
        """Store a private copy (under the lock)."""
        old = self._rows.get(copy.id)
        self._rows[copy.id] = copy
        due = copy.next_deadline
        if due is not None and (old is None or old.next_deadline != due):
            heapq.heappush(self._due, (due, copy.id))

    def load(self, instance_id: str) -> JourneyInstance:
        """A private copy of the instance (``StoreError`` if unknown)."""
        row = self._rows.get(instance_id)  # one lookup; stored copies are never mutated
        if row is None:
            raise StoreError(f"no journey instance {instance_id!r}")
        return row.copy()

    def save(self, instance: JourneyInstance, expected_version: int) -> None:
        """Write the instance if the stored version is ``expected_version``."""
        self.save_many([(instance, expected_version)])

    def save_many(self, items: Sequence[tuple[JourneyInstance, int]]) -> None:
        """Save several ``(instance, expected_version)`` atomically (all or none)."""
        copies = [inst.copy() for inst, _ in items]
        with self._lock:
            for inst, expected in items:
                row = self._rows.get(inst.id)
                if row is None or row.version != expected:
                    raise version_conflict(inst.id, expected,
                                           None if row is None else row.version)
            for copy in copies:
                self._put(copy)

    def due(self, now: float) -> list[str]:
        """Ids of instances with a deadline due at or before ``now``."""
        out: dict[str, None] = {}
        pending: list[tuple[float, str]] = []
        with self._lock:
            heap = self._due
            while heap and heap[0][0] <= now:
                entry = heapq.heappop(heap)
                row = self._rows.get(entry[1])
                if row is not None and row.next_deadline == entry[0]:
                    out[entry[1]] = None
                    pending.append(entry)  # still due until a save moves the deadline
                # else: stale (the deadline moved or the instance finished)
            for entry in pending:
                heapq.heappush(heap, entry)
        return list(out)

    def instances(self, journey_id: str | None = None) -> Iterator[JourneyInstance]:
        """Every stored instance (of one journey, if given), as copies."""
        with self._lock:
            rows = list(self._rows.values())
        for row in rows:
            if journey_id is None or row.journey_id == journey_id:
                yield row.copy()

    def __len__(self) -> int:
        return len(self._rows)
