"""OpenTelemetry spans around real-time batches, graph steps and journey sends.

Spans are written only when the OpenTelemetry API (``pip install telcoflow[otel]``) is
installed **and** the host has configured a tracer provider (``trace.set_tracer_provider``,
or ``opentelemetry-instrument``). Without the API nothing is imported and the hot paths pay
one module-level flag test per batch; with the API but no provider, one clock reading per
batch or send (the provider is looked up at most once a second, see :func:`tracer`).

Spans (instrumentation scope ``telcoflow``):

* ``telcoflow.batch`` (:meth:`RealtimeBilling.process
  <telcoflow.billing.realtime.RealtimeBilling.process>`): ``telcoflow.batch.size``, then
  ``telcoflow.batch.accepted``, ``telcoflow.batch.rejected``, ``telcoflow.batch.duplicates``;
* ``telcoflow.step <name>``, one per step of the process graph, children of the batch span
  (or of the host's current span for online charging and rerating):
  ``telcoflow.step.name``;
* ``telcoflow.journey.send`` (:meth:`JourneyRuntime.send
  <telcoflow.journeys.runtime.JourneyRuntime.send>`, also under ``dispatch`` and ``tick``):
  ``telcoflow.journey.id``, ``telcoflow.journey.version``, ``telcoflow.journey.event``,
  ``telcoflow.journey.instance``, then ``telcoflow.journey.state`` and
  ``telcoflow.journey.moved``.

An exception leaving a span is recorded on it and sets its status to error (the API's
default), then propagates unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.util import find_spec
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["ENABLED", "RECHECK", "SCOPE", "refresh", "span", "traced_send", "tracer"]

#: The instrumentation scope (tracer name) of every telcoflow span.
SCOPE = "telcoflow"


def _api_installed() -> bool:
    try:
        return find_spec("opentelemetry") is not None and find_spec(
            "opentelemetry.trace") is not None
    except (ImportError, ValueError):  # a broken or half-installed namespace package
        return False


#: Whether the OpenTelemetry API is installed (decided once, when this module is imported).
ENABLED: bool = _api_installed()

#: seconds between two looks for a provider while none is configured
RECHECK = 1.0

_found: list[Any] = [None]  # the tracer of the configured provider, once found
_next_look = [0.0]  # when to look for a provider again (monotonic seconds)


def tracer() -> Tracer | None:
    """The ``telcoflow`` tracer of the host's configured provider, or ``None`` (no API, or
    no provider configured: the API's proxy or no-op provider).

    A configured provider cannot be replaced (the API refuses), so its tracer is kept once
    found. While none is configured, the provider is looked up at most once every
    :data:`RECHECK` seconds (the lookup costs microseconds, and hot paths ask per batch and
    per send): spans start within a second of ``trace.set_tracer_provider``, or at once
    after :func:`refresh`."""
    found: Tracer | None = _found[0]
    if found is not None or not ENABLED:
        return found
    now = monotonic()
    if now < _next_look[0]:
        return None
    _next_look[0] = now + RECHECK
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours: str | None = version("telcoflow")
    except PackageNotFoundError:  # pragma: no cover - a source tree on sys.path
        ours = None
    found = _found[0] = provider.get_tracer(SCOPE, ours)
    return found


def refresh() -> None:
    """Look for the host's tracer provider at the next batch or send (call it right after
    ``trace.set_tracer_provider`` for spans from the very next batch)."""
    _next_look[0] = 0.0


@contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span | None]:
    """A span named ``name`` around the block (the current span's child), or ``None`` when
    no tracer is configured; set result attributes on it after the work."""
    found = tracer() if ENABLED else None
    if found is None:
        yield None
        return
    with found.start_as_current_span(name, attributes=attributes) as current:
        yield current


F = TypeVar("F", bound=Callable[..., Any])


def traced_send(send: F) -> F:
    """Wrap a journey runtime's ``send(instance, trigger, payload=None, *, channel, now)`` in
    a ``telcoflow.journey.send`` span. Without the API, ``send`` itself is returned: no
    wrapper, no cost."""
    if not ENABLED:
        return send

    @functools.wraps(send)
    def traced(self: Any, instance: Any, trigger: str, payload: Any = None, *,
               channel: str, now: float | None = None) -> Any:
        found = tracer()
        if found is None:
            return send(self, instance, trigger, payload, channel=channel, now=now)
        attributes: dict[str, Any] = {
            "telcoflow.journey.id": str(instance.journey_id),
            "telcoflow.journey.version": int(instance.journey_version),
            "telcoflow.journey.event": str(trigger),
            "telcoflow.journey.instance": str(instance.id),
        }
        with found.start_as_current_span("telcoflow.journey.send",
                                         attributes=attributes) as current:
            result = send(self, instance, trigger, payload, channel=channel, now=now)
            current.set_attribute("telcoflow.journey.state", str(instance.state))
            current.set_attribute("telcoflow.journey.moved", bool(result.moved))
            return result

    return traced  # type: ignore[return-value]
