"""Prometheus exposition of :class:`~telcoflow.billing.kpis.Kpis` (own registry, no globals).

:func:`registry_for` returns a fresh :class:`prometheus_client.CollectorRegistry` holding one
collector that reads the KPIs at scrape time; :func:`exposition` renders the text format.
Nothing is registered in prometheus-client's global default registry.
"""

from __future__ import annotations

from collections.abc import Iterator

from telcoflow._optional import requires
from telcoflow.billing.kpis import BUCKETS, Histogram, Kpis

with requires("billing", "the Prometheus exposition"):
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

__all__ = ["KpiCollector", "exposition", "registry_for"]


def _buckets(hist: Histogram) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip((*BUCKETS, float("inf")), hist.counts, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
    return out


class KpiCollector(Collector):
    """A custom collector reading one pipeline's :class:`Kpis` at each scrape."""

    def __init__(self, kpis: Kpis, *, namespace: str = "telcoflow") -> None:
        self.kpis = kpis
        self.ns = namespace

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families."""
        k, ns = self.kpis, self.ns
        events = CounterMetricFamily(f"{ns}_events", "Events by outcome", labels=["outcome"])
        events.add_metric(["submitted"], k.submitted)
        events.add_metric(["accepted"], k.accepted)
        events.add_metric(["duplicate"], k.duplicates)
        events.add_metric(["rejected"], sum(k.rejected.values()))
        yield events
        rejected = CounterMetricFamily(f"{ns}_rejected_events", "Rejected events by reason",
                                       labels=["reason"])
        for reason, n in sorted(k.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        messages = CounterMetricFamily(f"{ns}_messages", "Messages emitted", labels=["kind"])
        messages.add_metric(["rated"], k.rated)
        messages.add_metric(["notification"], k.notifications)
        yield messages
        snap = k.snapshot()
        rate = GaugeMetricFamily(f"{ns}_events_per_second",
                                 "Submitted events per second of processing time")
        rate.add_metric([], snap.events_per_second)
        yield rate
        steps = HistogramMetricFamily(f"{ns}_step_seconds", "Time per step per batch",
                                      labels=["step"])
        for name, hist in k.steps.items():
            steps.add_metric([name], _buckets(hist), hist.sum)
        yield steps
        batch = HistogramMetricFamily(f"{ns}_batch_seconds", "Time per batch")
        batch.add_metric([], _buckets(k.batch_latency), k.batch_latency.sum)
        yield batch


def registry_for(kpis: Kpis, *, namespace: str = "telcoflow") -> CollectorRegistry:
    """A new registry exposing ``kpis`` (never the global default registry)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KpiCollector(kpis, namespace=namespace))
    return registry


def exposition(kpis: Kpis, *, namespace: str = "telcoflow") -> str:
    """The Prometheus text exposition of ``kpis``."""
    return generate_latest(registry_for(kpis, namespace=namespace)).decode()
