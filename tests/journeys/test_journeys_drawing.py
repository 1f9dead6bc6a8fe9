"""The SVG drawing of journeys (layout with clusters, no system binary) and its users."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from telcoflow.journeys.definition import Journey, load_journey
from telcoflow.journeys.diagrams import render_diagram, to_dot
from telcoflow.journeys.drawing import _chart_layout, to_svg
from telcoflow.journeys.instance import ManualClock
from telcoflow.journeys.layout import Layout
from telcoflow.journeys.metrics import journey_metrics, render_metrics_html
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.stores.memory import MemoryJourneyStore
from telcoflow.testing.journeys import noop_actions

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
FILES = [*sorted((ROOT / "journeys").glob("*.yaml")),
         ROOT / "tests" / "journeys" / "charts" / "scxml_constructs.yaml"]


def _parse(svg: str) -> etree._Element:
    return etree.fromstring(svg.encode("utf-8"))


def _inside(inner: tuple[float, float, float, float],
            outer: tuple[float, float, float, float]) -> bool:
    return (inner[0] >= outer[0] - 0.01 and inner[1] >= outer[1] - 0.01
            and inner[0] + inner[2] <= outer[0] + outer[2] + 0.01
            and inner[1] + inner[3] <= outer[1] + outer[3] + 0.01)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return (a[0] < b[0] + b[2] - 0.5 and b[0] < a[0] + a[2] - 0.5
            and a[1] < b[1] + b[3] - 0.5 and b[1] < a[1] + a[3] - 0.5)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_state_and_transition_is_drawn_once(path: Path) -> None:
    journey = load_journey(path)
    root = _parse(to_svg(journey))
    assert root.tag == f"{SVG}svg"
    drawn = [g.get("data-state") for g in root.iter(f"{SVG}g") if g.get("data-state")]
    assert sorted(drawn) == sorted(journey.states)
    edges = [(g.get("data-source"), g.get("data-trigger"), g.get("data-target"))
             for g in root.iter(f"{SVG}g") if g.get("data-trigger") is not None]
    assert sorted(edges) == sorted((s, t, d) for s, t, _, d in journey.declared)


def _geometry(journey: Journey) -> Layout:
    return _chart_layout(journey, None)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_clusters_hold_their_states_and_labels_overlap_nothing(path: Path) -> None:
    journey = load_journey(path)
    lay = _geometry(journey)
    rect = {p: (b.x, b.y, b.w, b.h) for p, b in lay.boxes.items()}
    for p, node in journey.states.items():
        assert _inside(rect[p], (0, 0, lay.width, lay.height))
        if node.parent is not None:
            assert _inside(rect[p], rect[node.parent]), f"{p} outside {node.parent}"
    # two states overlap only when one holds the other
    paths = list(rect)
    for i, a in enumerate(paths):
        for b in paths[i + 1:]:
            nested = a.startswith(b + ".") or b.startswith(a + ".")
            assert nested or not _overlap(rect[a], rect[b]), (a, b)
    labels = [e.label_box for e in lay.edges if e.label_box is not None]
    for i, a_box in enumerate(labels):
        for b_box in labels[i + 1:]:
            assert not _overlap(a_box, b_box)
        for p, box in rect.items():
            if lay.boxes[p].kind == "leaf":
                assert not _overlap(a_box, box), p


def test_active_configuration_and_taken_transition_are_marked() -> None:
    journey = load_journey(ROOT / "journeys" / "prepaid_online_purchase.yaml")
    config = "checkout.kyc.verified+checkout.payment.failed"
    root = _parse(to_svg(journey, active=journey.active_states(config),
                         taken=("checkout.payment.pending", "payment_failed",
                                "checkout.payment.failed")))
    active = {g.get("data-state") for g in root.iter(f"{SVG}g")
              if "active" in (g.get("class") or "").split()}
    assert active == {"checkout", "checkout.kyc", "checkout.kyc.verified", "checkout.payment",
                      "checkout.payment.failed"}
    taken = [g.get("data-trigger") for g in root.iter(f"{SVG}g")
             if "taken" in (g.get("class") or "").split()]
    assert taken == ["payment_failed"]


def test_history_parallel_final_and_timeouts_are_visible() -> None:
    journey = load_journey(ROOT / "journeys" / "prepaid_online_purchase.yaml")
    svg = to_svg(journey)
    assert "checkout<tspan class=\"kind\"> (parallel)</tspan>" in svg
    assert "kyc<tspan class=\"kind\"> (region)</tspan>" in svg
    assert '>H*</text>' in svg  # deep history of checkout
    assert 'class="edge timeout"' in svg
    assert '<tspan class="trig"' in svg
    assert "after 15m</tspan>" in svg
    assert "resume (history)</tspan>" in svg
    assert '<g class="state leaf outcome-completed final" data-state="completed">' in svg


def test_dot_draws_an_end_state_label_once() -> None:
    text = to_dot(load_journey(ROOT / "journeys" / "top_up.yaml"))
    line = next(x for x in text.splitlines() if x.strip().startswith('"completed" ['))
    assert line.count("completed") == 2  # the node id and its one label
    assert "xlabel" not in line


def test_render_diagram_svg_and_html() -> None:
    path = ROOT / "journeys" / "top_up.yaml"
    svg = render_diagram(path, "svg")
    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    assert _parse(svg).get("data-journey") == "top-up"
    page = render_diagram(path, "html")
    assert page.startswith("<!doctype html>")
    assert "<svg " in page
    assert "<title>Prepaid top-up</title>" in page


def test_metrics_report_draws_the_counts_on_the_diagram() -> None:
    journey = load_journey(ROOT / "journeys" / "top_up.yaml")
    clock = ManualClock()
    rt = JourneyRuntime(MemoryJourneyStore(), [journey], actions=noop_actions(journey), clock=clock)
    done = rt.start("top-up", channel="app")
    rt.send(done, "choose_amount", {"amount": 20}, channel="app")
    rt.send(done, "payment_succeeded", channel="web")
    gone = rt.start("top-up", channel="web")
    rt.send(gone, "cancel", channel="web")
    m = journey_metrics(journey, [done, gone])
    report = render_metrics_html(m, journey)
    # choosing: 2 entered (app 1, web 1), 1 left it for abandoned
    assert '<text class="note"' in report
    assert "2 in · 1 dropped · app 1 / web 1</text>" in report
    assert "1 in</text>" in report  # completed
    assert "2 started, 0 in flight, 1 used more than one channel." in " ".join(report.split())
    assert "<svg" not in render_metrics_html(m)  # no journey: the charts only
