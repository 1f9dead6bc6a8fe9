"""The worker's HTTP endpoint: ``/healthz`` (also ``/readyz``, ``/livez``) and ``/metrics``."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from telcoflow._optional import requires

with requires("billing", "the worker's endpoint"):
    from prometheus_client import generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from telcoflow.worker.loop import Worker

__all__ = ["serve_endpoint"]

log = logging.getLogger("telcoflow.worker")


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
