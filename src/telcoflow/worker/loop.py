"""The worker loop: a stateless consumer of the bus running the real-time graph.

A worker owns some partitions of the bus (see :mod:`telcoflow.bus`), polls batches of
messages and handles them by kind:

- ``billing`` -- billing events (:func:`~telcoflow.bus.codec.encode_event` bodies) run
  through the real-time graph into the ledger store (PostgreSQL for several workers), one
  transaction per batch; only then are the messages acknowledged. A redelivered event is a
  duplicate (the ledger's claims), so nothing is charged twice. An undecodable body goes to
  the ledger's dead letters (reason ``undecodable``) and the bus's dead-letter stream.
- ``journey`` -- journey events (JSON ``{"instance", "trigger", "payload", "channel"}`` or
  ``{"start": {"journey", "context"}, "instance", "channel"}``) dispatched through the app's
  :class:`~telcoflow.journeys.runtime.JourneyRuntime` (optimistic concurrency, retried).
- ``billrun`` -- a bill-run shard (``"I/N"``) handed to the app's ``bill_run`` callable
  (the bill run is resumable, so a redelivered shard finishes only what is missing).

A store that cannot be reached (PostgreSQL restarted, connection cut) is retried with
backoff; the batch is not acknowledged until it is committed. A lost race
(:class:`~telcoflow.errors.ConcurrencyError`) re-runs the batch at once. A batch that fails
otherwise is re-run event by event and the failing events are dead-lettered (reason
``worker-error``).

The worker serves ``/healthz`` and ``/metrics`` (Prometheus, its own registry) and stops
cleanly on SIGTERM / SIGINT: it finishes and acknowledges the batch in hand, releases its
partitions (others take them at once) and closes its connections.

The *app* (``--app module:function``) builds what the worker runs from the configuration:
a :class:`WorkerApp` with the billing graph (and optionally a journey runtime and a bill-run
callable). :func:`telcoflow.demo.app.worker_app` (the default) runs the demo's synthetic
population. :func:`telcoflow.worker.service.run_worker` runs a worker as a process.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from telcoflow.billing.graph import GraphBuilder, ProcessGraph
from telcoflow.billing.realtime import BatchResult, RealtimeBilling
from telcoflow.bus.base import Bus, BusError, BusUnavailableError, Message
from telcoflow.bus.codec import MAX_BODY, body_fingerprint, decode_event
from telcoflow.config import BackendConfig
from telcoflow.errors import (
    ArgumentError,
    ConcurrencyError,
    EventRejectedError,
    StoreError,
    TelcoflowError,
)
from telcoflow.events import Event
from telcoflow.ledger import (
    ChangeSet,
    DeadLetter,
    LedgerStore,
    storable_id,
    storable_text,
)
from telcoflow.privacy import DEFAULT_MASKING, MaskingPolicy
from telcoflow.worker.metrics import WorkerMetrics

__all__ = ["AppFactory", "Worker", "WorkerApp", "bill_run_handler", "load_app"]

log = logging.getLogger("telcoflow.worker")


@dataclass
class WorkerApp:
    """What a worker runs: the billing graph, optionally journeys and bill-run shards."""

    graph: GraphBuilder | ProcessGraph
    journeys: Any = None
    bill_run: Callable[[str], object] | None = None


AppFactory = Callable[[BackendConfig], WorkerApp]


class _StopRequestedError(Exception):
    """Raised inside a retry loop when the worker is asked to stop (nothing is acked)."""


class Worker:
    """Consumes ``bus`` as ``name`` and runs ``app`` against ``store`` (see module docs);
    the store comes first, as in every engine."""

    def __init__(self, store: LedgerStore, app: WorkerApp, bus: Bus, *, name: str,
                 group: str = "workers", batch_size: int = 500, poll_timeout: float = 0.5,
                 metrics: WorkerMetrics | None = None,
                 stop_event: threading.Event | None = None,
                 masking: MaskingPolicy = DEFAULT_MASKING) -> None:
        if batch_size < 1:
            raise ArgumentError(f"`batch_size` must be >= 1 (got {batch_size})")
        self.app = app
        self.store = store
        self.bus = bus
        self.name = name
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.metrics = metrics if metrics is not None else WorkerMetrics()
        #: identifiers in dead letters, errors and health are masked unless told otherwise
        self.masking = masking
        self.billing = RealtimeBilling(store, app.graph, masking=masking,
                                       pause_gc=True)  # a dedicated billing process
        self.consumer = bus.consumer(name, group=group)
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.handled = 0
        self.last_loop = time.monotonic()
        self.last_error = ""

    # -- the loop ----------------------------------------------------------------------
    def run(self, *, max_messages: int | None = None, idle_exit: float | None = None) -> int:
        """Poll and handle until stopped (or ``max_messages`` handled, or idle for
        ``idle_exit`` seconds); release the partitions; return the messages handled."""
        self.metrics.up.set(1)
        idle_since = time.monotonic()
        try:
            while not self.stop_event.is_set():
                if max_messages is not None and self.handled >= max_messages:
                    break
                n = self.step()
                now = time.monotonic()
                if n:
                    idle_since = now
                elif idle_exit is not None and now - idle_since >= idle_exit:
                    break
        finally:
            self.metrics.up.set(0)
            self._leave()
        return self.handled

    def stop(self) -> None:
        """Ask the loop to stop after the batch in hand."""
        self.stop_event.set()

    def step(self) -> int:
        """One poll, handle, acknowledge; return the messages handled (0 when idle)."""
        self.last_loop = time.monotonic()
        try:
            messages = self.consumer.poll(self.batch_size, self.poll_timeout)
            self.metrics.partitions.set(len(self.consumer.owned()))
        except BusUnavailableError as exc:
            self._note(exc, "bus-unavailable")
            self.stop_event.wait(0.5)
            return 0
        if not messages:
            return 0
        t0 = time.perf_counter()
        try:
            self.handle(messages)
        except _StopRequestedError:
            self.consumer.rewind()
            return 0
        except (StoreError, ConcurrencyError) as exc:  # bus down, races without end...
            self._note(exc, "batch-failed")
            self.consumer.rewind()  # delivered again, in order, once things heal
            self.stop_event.wait(0.5)
            return 0
        self._ack(messages)
        self.handled += len(messages)
        self.metrics.batches.inc()
        self.metrics.batch_seconds.observe(time.perf_counter() - t0)
        self.metrics.last_batch.set(time.time())
        return len(messages)

    def _ack(self, messages: Sequence[Message]) -> None:
        delay = 0.1
        while True:
            try:
                self.consumer.ack(messages)
                return
            except BusUnavailableError as exc:
                # committed but not acknowledged: a redelivery would be a harmless duplicate
                self._note(exc, "ack-unavailable")
                if self.stop_event.wait(delay):
                    return
                delay = min(delay * 2, 2.0)

    def _note(self, exc: BaseException, error: str) -> None:
        self.last_error = self.masking.mask(f"{error}: {exc}")
        self.metrics.retries.labels(error).inc()
        log.warning("%s", self.last_error)

    def _retrying(self, what: Callable[[], Any]) -> Any:
        """Run ``what``: again at once after a lost race, with backoff while the store is
        unreachable; :class:`_StopRequestedError` when asked to stop meanwhile."""
        delay = 0.05
        races = 0
        while True:
            try:
                return what()
            except ConcurrencyError as exc:
                races += 1
                self._note(exc, "concurrency")
                if races > 50:
                    raise
            except StoreError as exc:
                if isinstance(exc, BusError) and not isinstance(exc, BusUnavailableError):
                    raise
                self._note(exc, "store-unavailable")
                if self.stop_event.wait(delay):
                    raise _StopRequestedError from exc
                delay = min(delay * 2, 2.0)

    # -- handling ----------------------------------------------------------------------
    def handle(self, messages: Sequence[Message]) -> None:
        """Handle one polled batch (all kinds); return once it is durably done."""
        billing: list[Message] = []
        for m in messages:
            if m.kind == "billing":
                billing.append(m)
        if billing:
            self._billing(billing)
        for m in messages:
            if m.kind == "journey":
                self._journey(m)
            elif m.kind == "billrun":
                self._bill_run(m)
            elif m.kind != "billing":
                self._dead(m, "unknown-kind", f"no handler for message kind {m.kind!r} "
                           "(expected billing, journey or billrun)")

    def _billing(self, messages: Sequence[Message]) -> None:
        events: list[Event] = []
        dead: list[DeadLetter] = []
        undecodable: list[tuple[Message, str]] = []
        for m in messages:
            try:
                events.append(decode_event(m.body))
            except EventRejectedError as exc:
                mask = self.masking.mask
                dead.append(DeadLetter(_event_id(m), "undecodable",
                                       storable_text(mask(str(exc)), 2000),
                                       body_fingerprint(m.body),
                                       storable_text(mask(m.body), 4000)))
                undecodable.append((m, str(exc)))
        if dead:  # the ledger's dead letters first (durable), then the bus's stream
            self._retrying(lambda: self.store.apply(ChangeSet(dead_letters=dead)))
            for m, why in undecodable:
                self._bus_dead(m, "undecodable", why)
            self.metrics.messages.labels("billing", "undecodable").inc(len(dead))
        if not events:
            return
        try:
            result: BatchResult = self._retrying(lambda: self._process(events))
            self._count(result)
        except (_StopRequestedError, ConcurrencyError):
            raise
        except Exception:  # a poison event or a bug: find it, dead-letter it
            log.exception("batch of %d events failed; retrying them one by one", len(events))
            self._one_by_one(events, messages)

    def _process(self, events: Sequence[Event]) -> BatchResult:
        warm = getattr(self.store, "warm", None)
        if warm is not None:
            owners: set[str] = set()
            for e in events:
                owners.add(e.account)
                if e.subscriber:
                    owners.add(e.subscriber)
            warm(owners)
        return self.billing.process(events)

    def _one_by_one(self, events: Sequence[Event], messages: Sequence[Message]) -> None:
        by_id = {_event_id(m): m for m in messages}
        for e in events:
            try:
                self._count(self._retrying(partial(self._process, [e])))
            except (_StopRequestedError, ConcurrencyError):
                raise
            except Exception as exc:
                mask = self.masking.mask
                detail = storable_text(mask(f"event {e.id}: {type(exc).__name__}: {exc}"), 2000)
                dead = ChangeSet(dead_letters=[DeadLetter(
                    storable_text(str(e.id), 256), "worker-error", detail, "",
                    storable_text(mask(e.canonical()), 4000))])
                self._retrying(partial(self.store.apply, dead))
                m = by_id.get(e.id)
                if m is not None:
                    self._bus_dead(m, "worker-error", detail)
                self.metrics.messages.labels("billing", "worker-error").inc()

    def _count(self, result: BatchResult) -> None:
        m = self.metrics.messages
        rejected = sum(result.rejected.values())
        m.labels("billing", "rated").inc(result.accepted - result.duplicates)
        if result.duplicates:
            m.labels("billing", "duplicate").inc(result.duplicates)
        if rejected:
            m.labels("billing", "rejected").inc(rejected)

    def _journey(self, m: Message) -> None:
        runtime = self.app.journeys
        if runtime is None:
            self._dead(m, "no-journeys", "this worker's app has no journey runtime")
            return
        try:
            body = json.loads(m.body)
            start = body.get("start")
            if start is not None:
                def create() -> None:
                    with suppress(ConcurrencyError):  # already created: a redelivery
                        runtime.create(start["journey"], channel=body.get("channel", "system"),
                                       instance_id=body.get("instance"),
                                       context=start.get("context"))
                self._retrying(create)
            else:
                self._retrying(lambda: runtime.dispatch(
                    body["instance"], body["trigger"], body.get("payload"),
                    channel=body.get("channel", "system")))
            self.metrics.messages.labels("journey", "processed").inc()
        except (_StopRequestedError, BusUnavailableError):
            raise
        except (TelcoflowError, ValueError, KeyError, TypeError) as exc:
            self._dead(m, getattr(exc, "reason", "journey-error"), f"{type(exc).__name__}: {exc}")

    def _bill_run(self, m: Message) -> None:
        run = self.app.bill_run
        if run is None:
            self._dead(m, "no-bill-run", "this worker's app runs no bill-run shards")
            return
        try:
            self._retrying(lambda: run(m.body))
            self.metrics.messages.labels("billrun", "processed").inc()
        except (_StopRequestedError, BusUnavailableError):
            raise
        except (TelcoflowError, ValueError) as exc:
            self._dead(m, "billrun-error", f"{type(exc).__name__}: {exc}")

    def _dead(self, m: Message, reason: str, detail: str) -> None:
        self._bus_dead(m, reason, detail)
        self.metrics.messages.labels(m.kind, "dead").inc()

    def _bus_dead(self, m: Message, reason: str, detail: str) -> None:
        """The bus's dead letter of ``m``, identifiers masked per the worker's policy."""
        mask = self.masking.mask
        self.bus.dead_letter(replace(m, body=mask(m.body)), reason, mask(detail),
                             consumer=self.name)

    # -- health and shutdown -------------------------------------------------------------
    def health(self, *, stale_after: float = 30.0) -> tuple[bool, dict[str, Any]]:
        """``(healthy, details)``: healthy while the loop turned in the last ``stale_after``
        seconds and the worker is not stopping."""
        age = time.monotonic() - self.last_loop
        ok = age < stale_after and not self.stop_event.is_set()
        return ok, {"status": "ok" if ok else "unhealthy", "name": self.name,
                    "partitions": sorted(self.consumer.owned()), "handled": self.handled,
                    "last_loop_age_s": round(age, 3), "last_error": self.last_error}

    def _leave(self) -> None:
        try:
            self.consumer.close()
        except BusError as exc:  # the bus is down: the leases simply expire
            log.warning("could not release partitions: %s", exc)


def _event_id(m: Message) -> str:
    """The event id of a billing message body, or ``msg:<bus id>`` if it has none."""
    try:
        if len(m.body) <= MAX_BODY:
            data = json.loads(m.body)
            if isinstance(data, list) and len(data) > 1 and data[1] and storable_id(data[1]):
                return data[1]
    except (ValueError, TypeError, RecursionError):
        pass
    return f"msg:{m.id}"


# ------------------------------------------------------------------------------ apps


def bill_run_handler(job: Any) -> Callable[[str], object]:
    """A ``WorkerApp.bill_run`` running shard ``"I/N"`` of ``job`` (a
    :class:`~telcoflow.billing.cycle.run.BillRunJob`) in the worker's process; the bill run
    is resumable, so a shard delivered twice finishes only what is missing."""
    from telcoflow.billing.cycle.run import bill_run

    def run(shard: str) -> object:
        return bill_run(job, shard=shard.strip(), processes=1, progress=False)

    return run


def load_app(spec: str) -> AppFactory:
    """The app factory named ``module:function``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ArgumentError(f"--app must be module:function (got {spec!r})")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ArgumentError(f"cannot load the app {spec!r}: {exc}") from exc
    if not callable(factory):
        raise ArgumentError(f"the app {spec!r} is not callable")
    return factory  # type: ignore[no-any-return]
