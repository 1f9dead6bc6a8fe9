"""Diagrams, test paths and metrics of journeys."""

from __future__ import annotations

from pathlib import Path

import pytest

from telcoflow.journeys.definition import load_journey
from telcoflow.journeys.diagrams import render_diagram, to_dot, to_html, to_mermaid
from telcoflow.journeys.instance import ManualClock
from telcoflow.journeys.metrics import JourneyMetrics, journey_metrics, render_metrics_html
from telcoflow.journeys.paths import shortest_paths, transition_cover
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.stores.memory import MemoryJourneyStore
from telcoflow.testing.journeys import journey_paths, noop_actions

ROOT = Path(__file__).resolve().parents[2]
PREPAID = load_journey(ROOT / "journeys" / "prepaid_online_purchase.yaml")
TOP_UP = load_journey(ROOT / "journeys" / "top_up.yaml")


def test_mermaid_draws_nesting_parallel_regions_and_labels() -> None:
    text = to_mermaid(PREPAID)
    assert text.startswith("---\ntitle: Prepaid online purchase (v1)\n---\nstateDiagram-v2\n")
    assert "    state checkout {\n" in text
    # the two regions of checkout are separated by `--`
    kyc, pay = text.index("state checkout_kyc {"), text.index("state checkout_payment {")
    assert "--\n" in text[kyc:pay]
    assert "checkout_payment_failed --> checkout_payment_pending : retry_payment [can_retry]" in (
        text)
    assert "checkout_payment_pending --> abandoned : after 15m / release_number" in text
    assert "on_hold --> checkout : resume (history)" in text
    assert "note right of completed : outcome completed" in text


def test_dot_uses_clusters_for_compound_states() -> None:
    text = to_dot(PREPAID)
    assert text.startswith('digraph "prepaid-online-purchase" {')
    assert 'subgraph "cluster_checkout" {' in text
    assert 'label="checkout (parallel) (H)"' in text
    # an edge into the compound state points at its cluster
    assert ('"number_selection" -> "checkout.kyc.pending" [label="select_number / '
            'reserve_number", lhead="cluster_checkout"];') in text
    assert text.count("{") == text.count("}")


def test_notebook_display() -> None:
    # no Markdown repr: JupyterLab would rank it first and show Mermaid text, not the drawing
    assert not hasattr(PREPAID, "_repr_markdown_")
    html = PREPAID._repr_html_()
    assert html == to_html(PREPAID)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="tf-diagram"' in html
    assert '<g class="state cluster" data-state="checkout">' in html
    assert "<table>" in html
    assert "--&gt;" in html  # the mermaid source is escaped


def test_shortest_paths_reach_every_configuration() -> None:
    paths = {p.goal: p for p in shortest_paths(PREPAID)}
    assert set(paths) == set(PREPAID.configurations)
    assert paths["offer"].triggers() == []
    assert paths["completed"].triggers() == [
        "choose_offer", "select_number", "kyc_passed", "payment_succeeded", "choose_delivery",
        "esim_downloaded", "activated"]


def test_transition_cover_takes_every_transition() -> None:
    covered = {s.index for p in transition_cover(TOP_UP) for s in p.steps}
    assert covered == {t.index for t in TOP_UP.transitions}
    assert journey_paths(TOP_UP, "states") == shortest_paths(TOP_UP)


def test_metrics_by_hand() -> None:
    clock = ManualClock(0.0)
    rt = JourneyRuntime(MemoryJourneyStore(), [TOP_UP], actions=noop_actions(TOP_UP), clock=clock)
    i1 = rt.start("top-up", channel="app", instance_id="i1", now=0.0)
    i2 = rt.start("top-up", channel="web", instance_id="i2", now=0.0)
    i3 = rt.start("top-up", channel="app", instance_id="i3", now=0.0)
    rt.send(i1, "choose_amount", {"amount": 10}, channel="web", now=60.0)
    rt.send(i1, "payment_succeeded", channel="web", now=120.0)
    rt.send(i2, "choose_amount", {"amount": 10}, channel="web", now=30.0)
    rt.send(i2, "payment_failed", channel="app", now=90.0)
    rt.send(i2, "cancel", channel="app", now=150.0)
    m = journey_metrics(TOP_UP, [i1, i2, i3])
    assert (m.started, m.in_flight, m.cross_channel) == (3, 1, 2)
    assert m.outcomes == {"completed": 1, "abandoned": 1, "rejected": 0}
    assert m.conversion == {"completed": 0.3333, "abandoned": 0.3333, "rejected": 0.0}  # 1/3
    assert m.funnel == {"choosing": 3, "paying": 2, "payment_failed": 1, "completed": 1,
                        "abandoned": 1}
    assert m.drop_off == {"payment_failed": 1}
    assert m.in_flight_by_state == {"choosing": 1}
    # choosing: i1 60 s, i2 30 s (i3 still there: not counted); nearest rank p50 of [30, 60]
    # is the 1st value, p90 the 2nd
    t = m.time_in_state["choosing"]
    assert (t.count, t.mean, t.p50, t.p90, t.p99) == (2, 45.0, 30.0, 60.0, 60.0)
    assert m.time_in_state["paying"].mean == 60.0  # 120 - 60 and 90 - 30
    assert m.time_in_state["payment_failed"].p50 == 60.0  # 150 - 90
    web, app = m.by_channel["web"], m.by_channel["app"]
    assert (web.started, app.started) == (1, 2)
    assert web.funnel["paying"] == 2
    assert app.funnel["payment_failed"] == 1
    assert (web.outcomes["completed"], app.outcomes["abandoned"]) == (1, 1)
    assert m.to_dict()["by_channel"]["web"]["started"] == 1


def test_metrics_html_report_is_escaped() -> None:
    m = JourneyMetrics("<script>x</script>", None, 1, 0, {"completed": 1}, {"completed": 1.0},
                       {"a": 1}, {}, {}, {})
    html = render_metrics_html(m)
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "100.0 %" in html
    assert m._repr_html_() == html


def test_render_diagram_from_a_path() -> None:
    path = ROOT / "journeys" / "top_up.yaml"
    assert render_diagram(path, "mermaid") == to_mermaid(TOP_UP)
    assert render_diagram(str(path), "dot") == to_dot(TOP_UP)
    with pytest.raises(ValueError, match="format must be one of"):
        render_diagram(TOP_UP, "png")
