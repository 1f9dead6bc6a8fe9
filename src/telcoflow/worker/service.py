"""Running a worker as a process: :class:`WorkerOptions` (what ``telcoflow worker`` takes on
its command line) and :func:`run_worker` (open the stores and the bus with retries, serve the
endpoint, run until ``SIGTERM`` / ``SIGINT``, close everything)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import FrameType
from typing import Any

from telcoflow.bus.base import default_consumer_name
from telcoflow.config import load_config
from telcoflow.errors import DefinitionError, StoreError, TelcoflowError
from telcoflow.ledger import LedgerStore
from telcoflow.privacy import redact_url
from telcoflow.worker.endpoint import serve_endpoint
from telcoflow.worker.loop import Worker, load_app

__all__ = ["DEFAULT_APP", "WorkerOptions", "run_worker"]

log = logging.getLogger("telcoflow.worker")

#: The app a worker runs unless told otherwise: the demo's synthetic population.
DEFAULT_APP = "telcoflow.demo.app:worker_app"


@dataclass(frozen=True)
class WorkerOptions:
    """How to run one worker process. ``None`` settings come from the configuration file
    (``config``) and the ``TELCOFLOW_*`` environment (see :mod:`telcoflow.config`)."""

    config: str | None = None
    ledger_url: str | None = None
    bus_url: str | None = None
    journeys_url: str | None = None
    cache_url: str | None = None
    partitions: int | None = None
    prefix: str | None = None
    #: ``module:function`` building the :class:`~telcoflow.worker.loop.WorkerApp`
    app: str = DEFAULT_APP
    #: consumer name (default: host-pid)
    name: str | None = None
    group: str = "workers"
    batch_size: int = 500
    #: interface of ``/healthz`` and ``/metrics`` (the loopback unless told otherwise)
    metrics_host: str = "127.0.0.1"
    #: serve the endpoint on this port (0: any free port; ``None``: no endpoint)
    metrics_port: int | None = None
    #: stop after this many messages
    max_messages: int | None = None
    #: stop after this many seconds without a message
    idle_exit: float | None = None


def run_worker(options: WorkerOptions, stop: threading.Event | None = None) -> int:
    """Run a worker until ``SIGTERM`` / ``SIGINT`` (or ``stop`` is set); return the exit code
    (0: clean shutdown, 2: bad settings or a service that never came up). Installs signal
    handlers when called from the main thread and restores them on return."""
    stop = stop if stop is not None else threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the batch in hand, then stopping", signum)
        stop.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        # first of all, so that a SIGTERM while starting up is a clean stop too
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM,
                                                                      signal.SIGINT)}
    try:
        return _serve(options, stop)
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


def _serve(o: WorkerOptions, stop: threading.Event) -> int:
    try:
        config = load_config(o.config, ledger_url=o.ledger_url, bus_url=o.bus_url,
                             journeys_url=o.journeys_url, cache_url=o.cache_url,
                             bus_partitions=o.partitions, bus_prefix=o.prefix)
        app = load_app(o.app)(config)
        store: LedgerStore = _until_up("opening the ledger", config.open_ledger, stop)
    except TelcoflowError as exc:
        log.error("%s", exc)
        return 2
    try:
        bus = config.open_bus()
        worker = _until_up("joining the bus", partial(
            Worker, store, app, bus, name=o.name or default_consumer_name(),
            group=o.group, batch_size=o.batch_size, stop_event=stop), stop)
    except TelcoflowError as exc:
        log.error("%s", exc)
        store.close()
        return 2
    server = None
    if o.metrics_port is not None:
        server = serve_endpoint(worker, o.metrics_host, o.metrics_port)
        log.info("health and metrics on http://%s:%d/", o.metrics_host,
                 server.server_address[1])
    log.info("worker %s: ledger %s, bus %s", worker.name, redact_url(config.ledger_url),
             redact_url(config.bus_url))
    try:
        handled = worker.run(max_messages=o.max_messages, idle_exit=o.idle_exit)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        store.close()
        bus.close()
    log.info("worker %s stopped after %d messages", worker.name, handled)
    return 0
