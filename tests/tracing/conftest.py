"""One SDK tracer provider for the process, recording only while a test holds ``spans``.

A global tracer provider can be set once per process; other tests of the suite then run
with it too, so its sampler drops every span unless the ``spans`` fixture armed it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

from telcoflow import tracing

_EXPORTER = InMemorySpanExporter()


class _Armed(Sampler):
    """Record every span while ``armed``; drop all otherwise."""

    armed = False

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: Any = None, attributes: Any = None, links: Sequence[Any] | None = None,
                      trace_state: Any = None) -> SamplingResult:
        decision = Decision.RECORD_AND_SAMPLE if self.armed else Decision.DROP
        return SamplingResult(decision, attributes if self.armed else None)

    def get_description(self) -> str:
        return "armed by the tests/tracing spans fixture"


_SAMPLER = _Armed()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The finished spans of this test (read with ``get_finished_spans()``)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider(sampler=_SAMPLER)
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    tracing.refresh()
    _EXPORTER.clear()
    _SAMPLER.armed = True
    try:
        yield _EXPORTER
    finally:
        _SAMPLER.armed = False
        _EXPORTER.clear()

