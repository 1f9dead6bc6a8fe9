"""telcoflow.worker: stateless workers consuming the event bus and running the real-time
graph (``telcoflow worker``; see ``docs/deployment.md``).

* :mod:`~telcoflow.worker.loop`: :class:`Worker` (poll, handle by kind, commit, ack, retry),
  :class:`WorkerApp` (what a worker runs) and :func:`load_app`;
* :mod:`~telcoflow.worker.metrics`: :class:`WorkerMetrics` (Prometheus, own registry);
* :mod:`~telcoflow.worker.endpoint`: :func:`serve_endpoint` (``/healthz``, ``/metrics``);
* :mod:`~telcoflow.worker.service`: :class:`WorkerOptions` and :func:`run_worker` (a
  worker process: start-up retries, signals, clean shutdown).
"""

from telcoflow.worker.endpoint import serve_endpoint
from telcoflow.worker.loop import AppFactory, Worker, WorkerApp, bill_run_handler, load_app
from telcoflow.worker.metrics import WorkerMetrics
from telcoflow.worker.service import DEFAULT_APP, WorkerOptions, run_worker

__all__ = [
    "DEFAULT_APP",
    "AppFactory",
    "Worker",
    "WorkerApp",
    "WorkerMetrics",
    "WorkerOptions",
    "bill_run_handler",
    "load_app",
    "run_worker",
    "serve_endpoint",
]
