"""What flows through the process graph: a :class:`Batch` of :class:`Item` work records.

The graph runs on batches (one event is a batch of one): each step loops over
``batch.items`` once, so the per-step overhead is paid per batch, not per event. Items carry
their event, the enrichment results, the charges being built and the effects posted, which
become the event's claim when the ``emit`` step finishes it.
"""

from __future__ import annotations

from typing import Any

from telcoflow.accounts import AccountProfile, SubscriberProfile
from telcoflow.billing.transaction import LedgerTransaction
from telcoflow.events import Charge, Event, Notification, RatedRecord, fingerprint
from telcoflow.ledger import Effect

__all__ = ["Batch", "Item"]


class Item:
    """One event on its way through the graph.

    ``fingerprint`` (the payload digest, :func:`telcoflow.events.fingerprint`) is computed
    the first time it is read: on the hot path only replays, conflicts, dead letters and
    stores that persist fingerprints need it.
    """

    __slots__ = ("_fingerprint", "account", "charges", "effects", "event", "period",
                 "post_period", "subscriber")

    def __init__(self, event: Event) -> None:
        self.event = event
        self._fingerprint = ""
        self.subscriber: SubscriberProfile | None = None
        self.account: AccountProfile | None = None
        self.period = ""
        self.post_period = ""
        self.charges: list[Charge] = _NO_CHARGES
        self.effects: list[Effect] = []

    @property
    def fingerprint(self) -> str:
        """The event's payload fingerprint (computed once, when first needed)."""
        fp = self._fingerprint
        if not fp:
            fp = self._fingerprint = fingerprint(self.event)
        return fp

    @fingerprint.setter
    def fingerprint(self, value: str) -> None:
        self._fingerprint = value

    def __repr__(self) -> str:
        return f"Item({self.event!r}, period={self.post_period!r}, charges={self.charges!r})"


_NO_CHARGES: list[Charge] = []  # shared, never mutated: steps assign a new list


class Batch:
    """A batch of items plus the transaction they write through and what they produce.

    ``rerate`` is true while rerating (claimed ids are processed again instead of skipped).
    ``context`` is free for hosts' steps and hooks.
    """

    __slots__ = ("context", "duplicates", "items", "notifications", "rated", "rejected",
                 "rerate", "submitted", "tx")

    def __init__(self, events: list[Event], tx: LedgerTransaction, *, rerate: bool = False):
        self.items: list[Item] = [Item(e) for e in events]
        self.tx = tx
        self.submitted = len(events)
        self.rated: list[RatedRecord] = []
        self.notifications: list[Notification] = []
        self.rejected: dict[str, int] = {}
        self.duplicates = 0
        self.rerate = rerate
        self.context: dict[str, Any] = {}

    def reject(self, item: Item, reason: str, message: str) -> None:
        """Send ``item`` to the dead letters with ``reason``; the caller drops it from items."""
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        self.tx.dead_letter(item.event, item._fingerprint, reason, message)
        if item.effects:  # posted, then rejected: its effects belong to no claim
            self.tx.unjournaled = True

    @property
    def accepted(self) -> int:
        """Events accepted so far (rated, or duplicates that were no-ops)."""
        return self.submitted - sum(self.rejected.values())
