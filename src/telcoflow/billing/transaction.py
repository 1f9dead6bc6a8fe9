"""The ledger transaction: one batch's reads (cached) and writes (a change set).

Steps read counters and flags and post ledger lines through :class:`LedgerTransaction`; it
reads each key from the store at most once per batch and accumulates every change in one
:class:`~telcoflow.ledger.ChangeSet`. :meth:`LedgerTransaction.commit` hands it to the
store, which applies claims and ledger writes atomically: an event id is claimed in the same
transaction as its ledger write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

from telcoflow.events import Event, fingerprint
from telcoflow.ledger import (
    ChangeSet,
    Claim,
    CounterMoves,
    DeadLetter,
    Effect,
    LedgerStore,
    LineKey,
    Posting,
    storable_id,
    storable_text,
)
from telcoflow.privacy import DEFAULT_MASKING, MaskingPolicy

__all__ = ["LedgerTransaction"]

_ZERO = Decimal(0)


class LedgerTransaction:
    """Reads and writes of one batch against a :class:`~telcoflow.ledger.LedgerStore`."""

    __slots__ = ("_flags", "changes", "local_fingerprints", "masking", "store", "unjournaled",
                 "values", "view")

    def __init__(self, store: LedgerStore, *, masking: MaskingPolicy = DEFAULT_MASKING) -> None:
        self.store = store
        #: how identifiers are shown in dead-letter messages and payloads
        self.masking = masking
        #: the store's committed counters when it keeps them in this process
        #: (``counter_view``, see :mod:`telcoflow.ledger`), else ``None``
        self.view: Mapping[str, Decimal] | None = getattr(store, "counter_view", None)
        #: the store lives in this process only and keeps
        #: :func:`~telcoflow.events.local_fingerprint` claims (cheaper than digests)
        self.local_fingerprints = getattr(store, "local_fingerprints", False) is True
        self.changes = ChangeSet()
        #: current counter values read or written in this transaction (steps on the hot path
        #: may read it directly before falling back to :meth:`counter`)
        self.values: dict[str, Decimal] = {}
        self._flags: dict[str, bool] = {}
        #: set when a change is not recorded in any claim's effects (a counter moved with
        #: ``effects=None``, a reversal, an item rejected after posting): the store must
        #: then write its sums with this batch instead of journaling the claims only
        self.unjournaled = False

    # -- claims ---------------------------------------------------------------------------
    def claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """Claims among ``event_ids``: committed ones and those of this transaction."""
        found = self.store.get_claims(event_ids)
        pending = self.changes.claims
        if pending:
            for i in event_ids:
                claim = pending.get(i)
                if claim is not None:
                    found[i] = claim
        return found

    def claim(self, event_id: str, fp: str, effects: list[Effect]) -> None:
        """Claim ``event_id`` with its fingerprint and effects (written at commit).

        ``fp`` is :func:`~telcoflow.events.fingerprint` of the event, or its
        :func:`~telcoflow.events.local_fingerprint` when ``local_fingerprints`` is true.
        """
        self.changes.claims[event_id] = Claim(event_id, fp, effects)

    def dead_letter(self, event: Event, fp: str, reason: str, message: str) -> None:
        """Record a rejected event (whatever it is: a malformed one keeps a printable form)."""
        raw_id = getattr(event, "id", None)
        eid = raw_id if storable_id(raw_id) else storable_text(repr(raw_id), 120)
        try:
            payload = event.canonical()
            fp = fp or fingerprint(event)
        except Exception:  # a malformed event: keep what can be shown of it
            payload = storable_text(repr(event), 2000)
            fp = hashlib.blake2b(payload.encode("utf-8"), digest_size=10).hexdigest()
        self.changes.dead_letters.append(
            DeadLetter(eid, reason, storable_text(self.masking.mask(message), 2000), fp,
                       storable_text(self.masking.mask(payload), 4000)))

    # -- ledger lines ---------------------------------------------------------------------
    def post(self, effects: list[Effect], key: LineKey, amount: Decimal,
             quantity: Decimal = _ZERO) -> None:
        """Add ``amount`` (and ``quantity``) to ledger line ``key``; record the effect."""
        line = self.changes.ledger.get(key)
        if line is None:
            self.changes.ledger[key] = [amount, quantity]
        else:
            line[0] += amount
            line[1] += quantity
        effects.append(Posting((key, amount, quantity)))

    # -- counters -------------------------------------------------------------------------
    def counter(self, key: str) -> Decimal:
        """The current value of counter ``key`` (0 if it never moved)."""
        value = self.values.get(key)
        if value is None:
            view = self.view
            if view is not None:
                value = view.get(key, _ZERO)
            else:
                value = self.store.get_counters((key,)).get(key, _ZERO)
            self.values[key] = value
        return value

    def prefetch(self, keys: Sequence[str]) -> None:
        """Read the counters among ``keys`` not read yet in one store call (0 if absent).

        A no-op when the store exposes its counters in this process (``view``): they are
        then read one by one, as cheaply.
        """
        if self.view is not None:
            return
        values = self.values
        missing = [k for k in keys if k not in values]
        if missing:
            found = self.store.get_counters(missing)
            for k in missing:
                values[k] = found.get(k, _ZERO)

    def add(self, effects: list[Effect] | None, key: str, delta: Decimal) -> Decimal:
        """Add ``delta`` to counter ``key``; return the new value; record the effect."""
        value = self.counter(key) + delta
        self.values[key] = value
        deltas = self.changes.counters
        deltas[key] = deltas.get(key, _ZERO) + delta
        if effects is not None:
            effects.append(CounterMoves((key, delta)))
        else:
            self.unjournaled = True
        return value

    # -- flags ----------------------------------------------------------------------------
    def flag(self, key: str) -> bool:
        """Whether flag ``key`` is set."""
        value = self._flags.get(key)
        if value is None:
            value = bool(self.store.get_flags((key,)))
            self._flags[key] = value
        return value

    def flags_among(self, keys: Collection[str]) -> set[str]:
        """The flags set among ``keys`` (one store read for the keys not read before)."""
        known = self._flags
        missing = [k for k in keys if k not in known]
        if missing:
            found = self.store.get_flags(missing)
            for k in missing:
                known[k] = k in found
        return {k for k in keys if known[k]}

    def set_flag(self, key: str) -> bool:
        """Set flag ``key``; return True if it was not set before (the first time)."""
        if self.flag(key):
            return False
        self._flags[key] = True
        self.changes.flags.add(key)
        return True

    # -- reversal (rerating) ---------------------------------------------------------------
    def reverse(self, effects: Sequence[Effect]) -> None:
        """Post the negative of every effect (undo an event's ledger and counter changes)."""
        self.unjournaled = True
        scratch: list[Effect] = []
        for effect in effects:
            if type(effect) is Posting:
                self.post(scratch, effect[0], -effect[1], -effect[2])
            elif type(effect) is CounterMoves:
                for ckey, delta in effect.pairs():
                    self.add(None, ckey, -delta)

    # -- the end --------------------------------------------------------------------------
    def commit(self) -> ChangeSet:
        """Apply the change set to the store atomically; start a fresh one; return the old."""
        changes = self.changes
        changes.journaled = not self.unjournaled
        self.store.apply(changes)
        self.changes = ChangeSet()
        self.unjournaled = False
        return changes

