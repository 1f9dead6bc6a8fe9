"""``telcoflow worker``: a stateless process consuming the bus and running the real-time graph.

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
callable). :func:`demo_app` runs the synthetic population of :mod:`telcoflow.demo.generator`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from telcoflow._optional import requires
from telcoflow.billing.graph import GraphBuilder, ProcessGraph
from telcoflow.billing.realtime import BatchResult, RealtimeBilling
from telcoflow.bus.base import Bus, BusError, BusUnavailableError, Message, default_consumer_name
from telcoflow.bus.codec import MAX_BODY, body_fingerprint, decode_event
from telcoflow.config import BackendConfig, load_config
from telcoflow.errors import (
    ConcurrencyError,
    DefinitionError,
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
from telcoflow.privacy import DEFAULT_MASKING, MaskingPolicy, redact_url

with requires("billing", "the worker"):
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = [
    "Worker",
    "WorkerApp",
    "WorkerMetrics",
    "bill_run_handler",
    "demo_app",
    "load_app",
    "main",
    "serve_endpoint",
]

log = logging.getLogger("telcoflow.worker")


@dataclass
class WorkerApp:
    """What a worker runs: the billing graph, optionally journeys and bill-run shards."""

    graph: GraphBuilder | ProcessGraph
    journeys: Any = None
    bill_run: Callable[[str], object] | None = None


AppFactory = Callable[[BackendConfig], WorkerApp]


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


class _StopRequestedError(Exception):
    """Raised inside a retry loop when the worker is asked to stop (nothing is acked)."""


class Worker:
    """Consumes ``bus`` as ``name`` and runs ``app`` against ``store`` (see module docs)."""

    def __init__(self, app: WorkerApp, store: LedgerStore, bus: Bus, *, name: str,
                 group: str = "workers", batch_size: int = 500, poll_timeout: float = 0.5,
                 metrics: WorkerMetrics | None = None,
                 stop_event: threading.Event | None = None,
                 masking: MaskingPolicy = DEFAULT_MASKING) -> None:
        if batch_size < 1:
            raise StoreError(f"`batch_size` must be >= 1 (got {batch_size})")
        self.app = app
        self.store = store
        self.bus = bus
        self.name = name
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.metrics = metrics if metrics is not None else WorkerMetrics()
        #: identifiers in dead letters, errors and health are masked unless told otherwise
        self.masking = masking
        self.billing = RealtimeBilling(app.graph, store, masking=masking)
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


# ------------------------------------------------------------------- the HTTP endpoint


def serve_endpoint(worker: Worker, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``/healthz`` (JSON; 200 or 503) and ``/metrics`` (Prometheus) in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                body = generate_latest(worker.metrics.registry)
                self._send(200, CONTENT_TYPE_LATEST, body)
            elif self.path.startswith(("/healthz", "/readyz", "/livez")):
                ok, details = worker.health()
                self._send(200 if ok else 503, "application/json",
                           json.dumps(details).encode())
            else:
                self._send(404, "text/plain", b"try /healthz or /metrics\n")

        def _send(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="telcoflow-worker-http",
                     daemon=True).start()
    return server


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
        raise StoreError(f"--app must be module:function (got {spec!r})")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise StoreError(f"cannot load the app {spec!r}: {exc}") from exc
    if not callable(factory):
        raise StoreError(f"the app {spec!r} is not callable")
    return factory  # type: ignore[no-any-return]


def demo_app(config: BackendConfig) -> WorkerApp:
    """The synthetic population of :func:`telcoflow.demo.generator.generate_population`
    (``TELCOFLOW_DEMO_ACCOUNTS``, default 200, and ``TELCOFLOW_DEMO_SEED``, default 7)
    behind the configured profile cache."""
    from telcoflow.billing.realtime import default_graph
    from telcoflow.config import open_profile_cache
    from telcoflow.demo.generator import generate_population

    accounts = int(os.environ.get("TELCOFLOW_DEMO_ACCOUNTS", "200"))
    seed = int(os.environ.get("TELCOFLOW_DEMO_SEED", "7"))
    pop = generate_population(accounts, seed=seed)
    profiles = open_profile_cache(config.cache_url, pop.profiles, ttl_s=config.cache_ttl_s,
                                  prefix=config.cache_prefix)
    return WorkerApp(default_graph(profiles, pop.rater, fees=pop.fees))


# ------------------------------------------------------------------------------ main


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="telcoflow worker",
        description="Consume the event bus and run the real-time graph against the ledger.")
    p.add_argument("--config", help="YAML file of backend settings (see telcoflow.config)")
    p.add_argument("--ledger-url", help="e.g. postgresql://user@host/db (TELCOFLOW_LEDGER_URL)")
    p.add_argument("--bus-url", help="e.g. redis://host:6379/0 (TELCOFLOW_BUS_URL)")
    p.add_argument("--journeys-url", help="journey store URL (TELCOFLOW_JOURNEYS_URL)")
    p.add_argument("--cache-url", help="profile cache URL (TELCOFLOW_CACHE_URL)")
    p.add_argument("--partitions", type=int, help="bus partitions (TELCOFLOW_BUS_PARTITIONS)")
    p.add_argument("--prefix", help="bus key prefix (TELCOFLOW_BUS_PREFIX)")
    p.add_argument("--app", default=os.environ.get("TELCOFLOW_WORKER_APP",
                                                   "telcoflow.worker:demo_app"),
                   help="module:function building the WorkerApp (default: %(default)s)")
    p.add_argument("--name", default=None, help="consumer name (default: host-pid)")
    p.add_argument("--group", default="workers", help="consumer group (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--metrics-host", default="127.0.0.1",
                   help="interface of /healthz and /metrics (default: %(default)s; 0.0.0.0 "
                        "to serve every interface)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="serve /healthz and /metrics on this port (0: any free port)")
    p.add_argument("--max-messages", type=int, default=None, help="stop after this many")
    p.add_argument("--idle-exit", type=float, default=None,
                   help="stop after this many seconds without a message")
    p.add_argument("--log-level", default="INFO")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run a worker until SIGTERM / SIGINT; return the exit code (0: clean shutdown)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the batch in hand, then stopping", signum)
        stop.set()

    # first of all, so that a SIGTERM while starting up is a clean stop too
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _serve(args, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _until_up(what: str, make: Callable[[], Any], stop: threading.Event,
              timeout: float = 120.0) -> Any:
    """``make()``, retried with backoff while its service is unreachable (``StoreError``)."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            return make()
        except DefinitionError:
            raise
        except StoreError as exc:
            if stop.is_set() or time.monotonic() >= deadline:
                raise
            log.warning("%s: %s (retrying)", what, exc)
            stop.wait(delay)
            delay = min(delay * 2, 5.0)


def _serve(args: argparse.Namespace, stop: threading.Event) -> int:
    try:
        config = load_config(args.config, ledger_url=args.ledger_url, bus_url=args.bus_url,
                             journeys_url=args.journeys_url, cache_url=args.cache_url,
                             bus_partitions=args.partitions, bus_prefix=args.prefix)
        app = load_app(args.app)(config)
        store: LedgerStore = _until_up("opening the ledger", config.open_ledger, stop)
    except TelcoflowError as exc:
        log.error("%s", exc)
        return 2
    try:
        bus = config.open_bus()
        worker = _until_up("joining the bus", partial(
            Worker, app, store, bus, name=args.name or default_consumer_name(),
            group=args.group, batch_size=args.batch_size, stop_event=stop), stop)
    except TelcoflowError as exc:
        log.error("%s", exc)
        store.close()
        return 2
    server = None
    if args.metrics_port is not None:
        server = serve_endpoint(worker, args.metrics_host, args.metrics_port)
        log.info("health and metrics on http://%s:%d/", args.metrics_host,
                 server.server_address[1])
    log.info("worker %s: ledger %s, bus %s", worker.name, redact_url(config.ledger_url),
             redact_url(config.bus_url))
    try:
        handled = worker.run(max_messages=args.max_messages, idle_exit=args.idle_exit)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        store.close()
        bus.close()
    log.info("worker %s stopped after %d messages", worker.name, handled)
    return 0


if __name__ == "__main__":  # pragma: no cover - python -m telcoflow.worker
    raise SystemExit(main())
