"""The worker's Prometheus metrics (``/metrics``), in a registry of their own."""

from __future__ import annotations

from telcoflow._optional import requires

with requires("billing", "the worker's metrics"):
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["WorkerMetrics"]


class WorkerMetrics:
    """The worker's Prometheus metrics, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter("telcoflow_worker_messages", "Messages handled, by kind and "
                                "outcome", ["kind", "outcome"], registry=r)
        self.batches = Counter("telcoflow_worker_batches", "Batches committed", registry=r)
        self.batch_seconds = Histogram("telcoflow_worker_batch_seconds", "Seconds per batch "
                                       "(poll to ack)", registry=r,
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                                                2.5, 5.0, 10.0))
        self.retries = Counter("telcoflow_worker_retries", "Batches re-run, by error",
                               ["error"], registry=r)
        self.partitions = Gauge("telcoflow_worker_partitions", "Bus partitions owned",
                                registry=r)
        self.last_batch = Gauge("telcoflow_worker_last_batch_timestamp_seconds",
                                "When the last batch was committed (POSIX seconds)",
                                registry=r)
        self.up = Gauge("telcoflow_worker_up", "1 while the worker runs", registry=r)
