"""Key performance indicators of the real-time path: throughput, latencies, counts.

:class:`Kpis` is plain state owned by one pipeline (no globals): counters of submitted,
accepted, duplicate and rejected events (by reason), rated records and notifications, and
fixed-bucket latency histograms per graph step and per batch. :meth:`Kpis.snapshot` returns
an immutable :class:`KpiSnapshot`; :mod:`telcoflow.ops.prometheus` exposes the same numbers.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from time import perf_counter

__all__ = ["BUCKETS", "Histogram", "KpiSnapshot", "Kpis"]

#: Histogram upper bounds in seconds (10 us .. 10 s); the last bucket is +Inf.
BUCKETS: tuple[float, ...] = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)


class Histogram:
    """A cumulative-friendly fixed-bucket histogram of seconds."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        """Record one observation."""
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds

    @property
    def count(self) -> int:
        """Number of observations."""
        return sum(self.counts)

    def quantile(self, q: float) -> float:
        """Upper bound of the bucket holding quantile ``q`` (0 when empty; inf past the end)."""
        total = self.count
        if total == 0:
            return 0.0
        rank = q * total
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank and c:
                return BUCKETS[i] if i < len(BUCKETS) else float("inf")
        return float("inf")


@dataclass(frozen=True, slots=True)
class StepStats:
    """Latency summary of one step (seconds, bucket upper bounds)."""

    calls: int
    total_seconds: float
    p50: float
    p99: float


@dataclass(frozen=True, slots=True)
class KpiSnapshot:
    """An immutable view of the KPIs at one instant."""

    submitted: int
    accepted: int
    duplicates: int
    rejected: Mapping[str, int]
    rated: int
    notifications: int
    batches: int
    elapsed_seconds: float
    busy_seconds: float
    steps: Mapping[str, StepStats] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        """All rejected events."""
        return sum(self.rejected.values())

    @property
    def events_per_second(self) -> float:
        """Submitted events per second of processing time (0 before any batch)."""
        return self.submitted / self.busy_seconds if self.busy_seconds else 0.0


class Kpis:
    """KPI state of one pipeline."""

    def __init__(self) -> None:
        self.started = perf_counter()
        self.submitted = 0
        self.accepted = 0
        self.duplicates = 0
        self.rejected: dict[str, int] = {}
        self.rated = 0
        self.notifications = 0
        self.batches = 0
        self.busy_seconds = 0.0
        self.steps: dict[str, Histogram] = {}
        self.batch_latency = Histogram()

    def observe_step(self, step: str, seconds: float) -> None:
        """Record the time one step took for one batch."""
        hist = self.steps.get(step)
        if hist is None:
            hist = self.steps[step] = Histogram()
        hist.observe(seconds)

    def observe_batch(self, *, submitted: int, accepted: int, duplicates: int,
                      rejected: Mapping[str, int], rated: int, notifications: int,
                      seconds: float) -> None:
        """Record one processed batch."""
        self.submitted += submitted
        self.accepted += accepted
        self.duplicates += duplicates
        for reason, n in rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n
        self.rated += rated
        self.notifications += notifications
        self.batches += 1
        self.busy_seconds += seconds
        self.batch_latency.observe(seconds)

    def snapshot(self) -> KpiSnapshot:
        """The current numbers, frozen."""
        return KpiSnapshot(
            submitted=self.submitted,
            accepted=self.accepted,
            duplicates=self.duplicates,
            rejected=dict(self.rejected),
            rated=self.rated,
            notifications=self.notifications,
            batches=self.batches,
            elapsed_seconds=perf_counter() - self.started,
            busy_seconds=self.busy_seconds,
            steps={
                name: StepStats(h.count, h.sum, h.quantile(0.5), h.quantile(0.99))
                for name, h in self.steps.items()
            },
        )
