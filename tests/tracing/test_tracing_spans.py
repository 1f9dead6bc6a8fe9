"""OpenTelemetry spans around batches, graph steps and journey sends (issue #18)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from telcoflow import tracing
from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.batch import Batch
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.errors import EventRejectedError
from telcoflow.events import UsageEvent
from telcoflow.journeys.definition import parse_journey
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.rating.rater import TableRater, UnitTariff
from telcoflow.stores.memory import MemoryJourneyStore, MemoryLedgerStore

NOV = datetime(2026, 11, 10, 12, 0)
STEPS = ["validate", "deduplicate", "enrich", "rate", "ledger", "discount", "tax", "split",
         "credit_control", "emit"]


def by_name(finished: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    """The finished spans called ``name``."""
    return [s for s in finished if s.name == name]


def _billing() -> RealtimeBilling:
    post = AccountProfile("post")
    profiles = DictProfiles([post], [SubscriberProfile("s1", post, "plus")])
    rater = TableRater({("data", "*", ""): UnitTariff("data", Decimal("0.05"))})
    return RealtimeBilling(graph=default_graph(profiles, rater), store=MemoryLedgerStore())


def _usage(eid: str, sub: str = "s1") -> UsageEvent:
    return UsageEvent(eid, sub, "post", "data", NOV, Decimal(10))


def test_a_batch_is_a_span_with_its_counts_and_one_child_per_step(
        spans: InMemorySpanExporter) -> None:
    billing = _billing()
    billing.process([_usage("e1"), _usage("e2"), _usage("e1"), _usage("e3", "ghost")])
    finished = spans.get_finished_spans()
    (batch,) = by_name(finished, "telcoflow.batch")
    assert dict(batch.attributes or {}) == {
        "telcoflow.batch.size": 4, "telcoflow.batch.accepted": 3,
        "telcoflow.batch.rejected": 1, "telcoflow.batch.duplicates": 1}
    steps = [s for s in finished if s.name.startswith("telcoflow.step ")]
    assert [s.name.removeprefix("telcoflow.step ") for s in steps] == billing.graph.order
    assert billing.graph.order == STEPS
    for s in steps:
        assert s.parent is not None
        assert s.parent.span_id == batch.context.span_id  # nested in the batch
        assert (s.attributes or {})["telcoflow.step.name"] == s.name.split(" ", 1)[1]
        assert batch.start_time <= s.start_time <= s.end_time <= batch.end_time


def test_a_failing_step_marks_its_span_and_the_batch_as_errors(
        spans: InMemorySpanExporter) -> None:
    class Boom:
        name, needs, provides = "boom", ("rated",), ("boomed",)

        def __call__(self, batch: Batch) -> None:
            raise RuntimeError("host step failed")

    post = AccountProfile("post")
    profiles = DictProfiles([post], [SubscriberProfile("s1", post, "plus")])
    rater = TableRater({("data", "*", ""): UnitTariff("data", Decimal("0.05"))})
    billing = RealtimeBilling(graph=default_graph(profiles, rater).add(Boom()),
                              store=MemoryLedgerStore())
    with pytest.raises(RuntimeError, match="host step failed"):  # unchanged
        billing.process([_usage("e1")])
    finished = spans.get_finished_spans()
    (step,) = by_name(finished, "telcoflow.step boom")
    (batch,) = by_name(finished, "telcoflow.batch")
    assert step.status.status_code is StatusCode.ERROR
    assert batch.status.status_code is StatusCode.ERROR
    assert [e.name for e in step.events] == ["exception"]


JOURNEY = textwrap.dedent("""
    kind: journey
    id: pay
    version: 1
    triggers: {go: {}, finish: {}}
    states:
      a: {initial: true, on: {go: b}}
      b: {on: {finish: done}}
      done: {outcome: completed}
    """)


def test_a_journey_send_is_a_span_with_journey_event_and_instance(
        spans: InMemorySpanExporter) -> None:
    runtime = JourneyRuntime(MemoryJourneyStore(), [parse_journey(JOURNEY, "pay.yaml")])
    inst = runtime.start("pay", channel="web", instance_id="i-7")
    runtime.send(inst, "go", channel="web")
    with pytest.raises(EventRejectedError):
        runtime.send(inst, "go", channel="web")  # not allowed in b: recorded, re-raised
    first, refused = by_name(spans.get_finished_spans(), "telcoflow.journey.send")
    assert dict(first.attributes or {}) == {
        "telcoflow.journey.id": "pay", "telcoflow.journey.version": 1,
        "telcoflow.journey.event": "go", "telcoflow.journey.instance": "i-7",
        "telcoflow.journey.state": "b", "telcoflow.journey.moved": True}
    assert first.status.status_code is StatusCode.UNSET
    assert refused.status.status_code is StatusCode.ERROR
    assert (refused.attributes or {})["telcoflow.journey.event"] == "go"


def test_spans_nest_under_the_hosts_current_span(spans: InMemorySpanExporter) -> None:
    from opentelemetry import trace

    with trace.get_tracer("host").start_as_current_span("request") as request:
        _billing().process([_usage("e1")])
    (batch,) = by_name(spans.get_finished_spans(), "telcoflow.batch")
    assert batch.parent is not None
    assert batch.parent.span_id == request.get_span_context().span_id


def test_without_a_configured_provider_nothing_is_traced() -> None:
    code = textwrap.dedent("""
        import sys
        from telcoflow import tracing
        assert tracing.ENABLED            # the API is installed in the test environment
        assert tracing.tracer() is None   # but no provider is configured
        with tracing.span("x") as s:
            assert s is None
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_the_api_nothing_is_imported_and_send_is_not_wrapped() -> None:
    code = textwrap.dedent("""
        import sys
        class Block:                      # the API package is absent
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(name)
                return None
        sys.meta_path.insert(0, Block())
        from telcoflow import tracing
        from telcoflow.journeys.runtime import JourneyRuntime
        from telcoflow.billing.realtime import RealtimeBilling
        assert tracing.ENABLED is False and tracing.tracer() is None
        assert not any(m.startswith("opentelemetry") for m in sys.modules)
        assert not hasattr(JourneyRuntime.send, "__wrapped__")
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_send_wrapper_is_there_when_the_api_is() -> None:
    assert tracing.ENABLED
    assert hasattr(JourneyRuntime.send, "__wrapped__")
