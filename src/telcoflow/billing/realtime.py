"""The real-time billing pipeline: the default graph, batches, commits, rerating.

:func:`default_graph` returns a :class:`~telcoflow.billing.graph.GraphBuilder` with the ten
default steps; hosts add, replace or remove steps and hooks before building it.
:class:`RealtimeBilling` runs the built graph over batches of events, one store transaction
per batch (claims and ledger writes together), and keeps the KPIs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from time import perf_counter

from telcoflow import tracing
from telcoflow.accounts import ProfileCache
from telcoflow.billing.batch import Batch
from telcoflow.billing.gc_pause import gc_paused
from telcoflow.billing.graph import GraphBuilder, ProcessGraph
from telcoflow.billing.kpis import Kpis
from telcoflow.billing.recurring import RecurringFees
from telcoflow.billing.steps import (
    USAGE_TYPES,
    CreditControl,
    Deduplicate,
    Emit,
    Enrich,
    LatePolicy,
    Ledger,
    Rate,
    RealtimeDiscounts,
    Sink,
    Split,
    Tax,
    Validate,
)
from telcoflow.billing.transaction import LedgerTransaction
from telcoflow.errors import GraphError
from telcoflow.events import Event, Notification, RatedRecord
from telcoflow.ledger import ChangeSet, LedgerStore, LineKey, Posting, closed_flag
from telcoflow.money import money_context
from telcoflow.periods import next_period
from telcoflow.privacy import DEFAULT_MASKING, MaskingPolicy
from telcoflow.rating.rater import Rater
from telcoflow.rating.tax import TaxRules

__all__ = ["Adjustment", "BatchResult", "RealtimeBilling", "StreamTotals", "default_graph"]

_ZERO = Decimal(0)


def default_graph(
    profiles: ProfileCache,
    rater: Rater,
    *,
    fees: RecurringFees | None = None,
    late_policy: LatePolicy = "next",
    sinks: Iterable[Sink] = (),
    usage_types: Iterable[str] = USAGE_TYPES,
    period_counters: bool = True,
    taxes: TaxRules | None = None,
) -> GraphBuilder:
    """The default real-time graph (validate ... emit) as a builder to adjust and build.

    ``taxes`` (``TaxRules(catalog)``) taxes each charge by the catalog, as the cycle close
    does; without it, by the account profiles' ``tax_rates``.

    ``usage_types`` defaults to every service a catalog prices; ``period_counters`` (on by
    default) prices period-priced tariffs over the period (see :class:`~telcoflow.billing.
    steps.Rate`).
    """
    return GraphBuilder([
        Validate(usage_types),
        Deduplicate(),
        Enrich(profiles, late_policy=late_policy),
        Rate(rater, fees=fees, period_counters=period_counters),
        Ledger(),
        RealtimeDiscounts(),
        Tax(taxes),
        Split(profiles),
        CreditControl(profiles),
        Emit(sinks),
    ])


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did: counts, rated records and notifications.

    ``accepted`` counts rated events and duplicates that were no-ops, so
    ``accepted + rejected == submitted``.
    """

    submitted: int
    accepted: int
    duplicates: int
    rejected: Mapping[str, int]
    rated: list[RatedRecord]
    notifications: list[Notification]


@dataclass(slots=True)
class StreamTotals:
    """Totals of a stream processed in batches."""

    submitted: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    notifications: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A rerating difference posted to one ledger line (new minus old)."""

    account: str
    subscriber: str
    item_type: str
    period: str
    currency: str
    amount: Decimal
    quantity: Decimal


class RealtimeBilling:
    """Runs a process graph over batches of events against a ledger store.

    ``store`` comes first, as in every engine of telcoflow (``OnlineCharging``, ``Worker``,
    ``JourneyRuntime``); ``graph`` may be a builder (it is built here, with this pipeline's KPIs).

    ``pause_gc`` (off by default; opt in with ``pause_gc=True``) pauses Python's cyclic
    garbage collector while a batch runs and resumes it after (see
    :mod:`telcoflow.billing.gc_pause`). The collector is process-wide: while it is paused no
    thread of the host collects cycles, and a host that runs other work beside the billing
    (a web service, other batches in threads) may see its memory grow for a batch's
    duration. A dedicated billing process gains some throughput (a batch's short-lived
    objects die by reference counting and are not walked by the collector); see
    docs/billing.md for the measured figure.
    """

    def __init__(self, store: LedgerStore, graph: ProcessGraph | GraphBuilder, *,
                 kpis: Kpis | None = None, pause_gc: bool = False,
                 masking: MaskingPolicy = DEFAULT_MASKING) -> None:
        self.kpis = kpis if kpis is not None else Kpis()
        #: identifiers in dead letters are masked unless this is :data:`~telcoflow.privacy.CLEAR`
        self.masking = masking
        self.pause_gc = pause_gc
        if isinstance(graph, GraphBuilder):
            graph = graph.build(kpis=self.kpis)
        elif graph.kpis is None:
            graph.kpis = self.kpis
        self.graph = graph
        self.store = store

    def process(self, events: Sequence[Event]) -> BatchResult:
        """Process one batch in one store transaction; return what it did.

        With a tracer configured (:mod:`telcoflow.tracing`), the batch is a
        ``telcoflow.batch`` span and each step a child span."""
        found = tracing.tracer() if tracing.ENABLED else None
        if found is None:
            return self._paused(events)
        with found.start_as_current_span("telcoflow.batch",
                                         attributes={"telcoflow.batch.size": len(events)}) as span:
            result = self._paused(events)
            span.set_attributes({
                "telcoflow.batch.accepted": result.accepted,
                "telcoflow.batch.rejected": sum(result.rejected.values()),
                "telcoflow.batch.duplicates": result.duplicates})
            return result

    def _paused(self, events: Sequence[Event]) -> BatchResult:
        if not self.pause_gc:
            return self._process(events)
        with gc_paused():
            return self._process(events)

    def _process(self, events: Sequence[Event]) -> BatchResult:
        t0 = perf_counter()
        # the graph's run and the store's apply each compute in the library's money context
        tx = LedgerTransaction(self.store, masking=self.masking)
        batch = Batch(list(events), tx)
        self.graph.run(batch)
        tx.commit()
        return self._done(batch, perf_counter() - t0)

    def _done(self, batch: Batch, seconds: float) -> BatchResult:
        result = BatchResult(batch.submitted, batch.accepted, batch.duplicates,
                             dict(batch.rejected), batch.rated, batch.notifications)
        self.kpis.observe_batch(
            submitted=result.submitted, accepted=result.accepted,
            duplicates=result.duplicates, rejected=result.rejected,
            rated=len(result.rated), notifications=len(result.notifications), seconds=seconds,
        )
        return result

    def stream(self, events: Iterable[Event], *, batch_size: int = 1000,
               on_batch: Callable[[BatchResult], None] | None = None) -> StreamTotals:
        """Process a stream in batches of ``batch_size`` (one durable commit each)."""
        totals = StreamTotals()
        it = iter(events)
        t0 = perf_counter()
        while True:
            chunk = list(islice(it, batch_size))
            if not chunk:
                break
            result = self.process(chunk)
            totals.submitted += result.submitted
            totals.accepted += result.accepted
            totals.duplicates += result.duplicates
            totals.notifications += len(result.notifications)
            for reason, n in result.rejected.items():
                totals.rejected += n
                totals.reasons[reason] = totals.reasons.get(reason, 0) + n
            if on_batch is not None:
                on_batch(result)
        totals.seconds = perf_counter() - t0
        return totals

    def close_period(self, account: str, period: str) -> None:
        """Mark ``period`` of ``account`` closed: later events follow the late policy."""
        self.store.apply(ChangeSet(flags={closed_flag(account, period)}))

    def rerate(self, events: Sequence[Event], *, graph: ProcessGraph | None = None,
               bill_cycle_day: Callable[[str], int] | None = None) -> list[Adjustment]:
        """Rate ``events`` again (e.g. with a corrected tariff in ``graph``).

        The earlier effects of each event -- ledger lines, allowance units, balances, caps,
        spend -- are reversed and the new ones posted, in one transaction; the ledger
        receives only the differences, returned as :class:`Adjustment` lines. Differences for
        a closed period go to the next open period. Notifications already sent stay sent.
        """
        with money_context():
            return self._rerate(events, graph, bill_cycle_day)

    def _rerate(self, events: Sequence[Event], graph: ProcessGraph | None,
                bill_cycle_day: Callable[[str], int] | None) -> list[Adjustment]:
        graph = graph if graph is not None else self.graph
        t0 = perf_counter()
        tx = LedgerTransaction(self.store, masking=self.masking)
        ids = [e.id for e in events]
        claims = tx.claims(ids)
        cycle_day = bill_cycle_day or self._bill_cycle_day
        for effects in (c.effects for c in claims.values()):
            moved = []
            for effect in effects:
                if type(effect) is Posting:
                    key = effect.key
                    period = key[3]
                    while tx.flag(closed_flag(key[0], period)):
                        period = next_period(period, cycle_day(key[0]))
                    if period != key[3]:
                        effect = effect.moved_to(period)
                moved.append(effect)
            tx.reverse(moved)
        batch = Batch(list(events), tx, rerate=True)
        graph.run(batch)
        changes = tx.commit()
        self._done(batch, perf_counter() - t0)
        return [
            Adjustment(*key, amount=v[0], quantity=v[1])
            for key, v in sorted(changes.ledger.items())
            if v[0] or v[1]
        ]

    def _bill_cycle_day(self, account_id: str) -> int:
        try:
            enrich = self.graph.step("enrich")
            profiles: ProfileCache = enrich.profiles  # type: ignore[attr-defined]
            account = profiles.account(account_id)
        except (AttributeError, GraphError):  # a host graph may lack the default enrich step
            account = None
        return account.bill_cycle_day if account is not None else 1

    def totals(self, *, period: str | None = None) -> dict[LineKey, Decimal]:
        """Ledger amounts by line key (optionally for one period)."""
        return {
            (ln.account, ln.subscriber, ln.item_type, ln.period, ln.currency): ln.amount
            for ln in self.store.lines(period=period)
        }

    def account_totals(self, *, period: str | None = None) -> dict[str, Decimal]:
        """Ledger amount per account (optionally for one period)."""
        out: dict[str, Decimal] = {}
        for ln in self.store.lines(period=period):
            out[ln.account] = out.get(ln.account, _ZERO) + ln.amount
        return out
