"""The ``emit`` step: claims and rated records, handed to the sinks."""

from __future__ import annotations

from collections.abc import Iterable

from telcoflow.billing.batch import Batch
from telcoflow.billing.steps._shared import (
    _ZERO,
    Sink,
)
from telcoflow.events import (
    RatedRecord,
    UsageEvent,
    local_fingerprint,
)
from telcoflow.ledger import (
    Claim,
)


class Emit:
    """Build the rated records, claim every event id with its effects, call the sinks."""

    __slots__ = ("sinks",)
    name = "emit"
    needs = ("controlled",)
    provides = ("emitted",)

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks = tuple(sinks)

    def __call__(self, batch: Batch) -> None:
        """Emit and claim."""
        tx = batch.tx
        claims = tx.changes.claims
        local = tx.local_fingerprints
        rated = batch.rated
        for item in batch.items:
            e = item.event
            account = item.account
            assert account is not None
            if item.charges:
                if type(e) is UsageEvent:
                    rated.append(RatedRecord(e.id, "usage", account.id, e.subscriber,
                                             item.post_period, account.currency, item.charges,
                                             e.start, e.usage_type, e.quantity))
                else:
                    rated.append(RatedRecord(e.id, e.kind, account.id, e.subscriber,
                                             item.post_period, account.currency, item.charges,
                                             e.start, e.kind, _ZERO))
            # inlined LedgerTransaction.claim
            claims[e.id] = Claim(e.id, local_fingerprint(e) if local else item.fingerprint,
                                 item.effects)
        for sink in self.sinks:
            sink(rated, batch.notifications)
