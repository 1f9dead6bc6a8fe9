"""Journey metrics from transition records: funnel, conversion, drop-off, time in state.

Everything is computed from the instances' history records (``at, trigger, state, channel``),
for all channels together and split by channel. A record counts for the channel of the event
that made it: an instance started in the app and paid on the web counts in the app's
``started`` and in the web's funnel for the states it entered from the web. Timeouts and
migrations carry the ``system`` channel.

* ``funnel``: per declared state (leaf, compound or parallel), how many instances entered it.
* ``outcomes`` / ``conversion``: per outcome, instances that reached it and the share of the
  instances started (a ratio, not money: a float).
* ``drop_off``: for abandoned and rejected instances, the configuration they left for it.
* ``time_in_state``: seconds each declared state stayed active, p50/p90/p99 (nearest rank),
  over completed stays only (a state still active is not counted). A stay lasts while the
  state stays active: a self-transition does not start a new stay.

:func:`render_metrics_html` renders the same data as an HTML report (Jinja2, autoescaped):
the journey's diagram annotated per state (when the journey is given) and the charts of
:func:`metrics_charts_html`, which the studio's metrics view shows too.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from telcoflow._optional import requires
from telcoflow.errors import TelcoflowRuntimeError
from telcoflow.journeys.definition import Journey
from telcoflow.journeys.drawing import to_svg
from telcoflow.journeys.instance import JourneyInstance

with requires("journeys", "the journey metrics page"):
    import jinja2
    from markupsafe import Markup

__all__ = ["CHART_STYLE", "JourneyMetrics", "StateTime", "journey_metrics",
           "metrics_charts_html", "render_metrics_html", "state_notes"]


@dataclass(frozen=True, slots=True)
class StateTime:
    """Seconds a state stayed active: how many stays, and percentiles (nearest rank)."""

    count: int
    mean: float
    p50: float
    p90: float
    p99: float


@dataclass(frozen=True)
class JourneyMetrics:
    """Metrics of one journey, for all channels (``channel`` None) or one channel."""

    journey_id: str
    channel: str | None
    started: int
    in_flight: int
    outcomes: Mapping[str, int]
    conversion: Mapping[str, float]
    funnel: Mapping[str, int]
    drop_off: Mapping[str, int]
    in_flight_by_state: Mapping[str, int]
    time_in_state: Mapping[str, StateTime]
    cross_channel: int = 0
    by_channel: Mapping[str, JourneyMetrics] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-friendly)."""
        out = asdict(self)
        out["by_channel"] = {k: v.to_dict() for k, v in self.by_channel.items()}
        return out

    def to_html(self) -> str:
        """The HTML report (see :func:`render_metrics_html`)."""
        return render_metrics_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


class _Acc:
    __slots__ = ("drop_off", "durations", "funnel", "in_flight", "in_flight_by_state",
                 "instances_seen", "outcomes", "started")

    def __init__(self) -> None:
        self.started = 0
        self.in_flight = 0
        self.outcomes: Counter[str] = Counter()
        self.funnel: dict[str, set[str]] = defaultdict(set)
        self.drop_off: Counter[str] = Counter()
        self.in_flight_by_state: Counter[str] = Counter()
        self.durations: dict[str, list[float]] = defaultdict(list)
        self.instances_seen: set[str] = set()

    def build(self, journey: Journey, channel: str | None, cross: int = 0,
              by_channel: Mapping[str, JourneyMetrics] | None = None) -> JourneyMetrics:
        order = {s: n.order for s, n in journey.states.items()}
        funnel = {s: len(self.funnel[s]) for s in sorted(self.funnel, key=lambda s: order.get(
            s, len(order)))}
        times = {}
        for state in sorted(self.durations, key=lambda s: order.get(s, len(order))):
            values = sorted(self.durations[state])
            times[state] = StateTime(len(values), round(sum(values) / len(values), 6),
                                     _percentile(values, 0.5), _percentile(values, 0.9),
                                     _percentile(values, 0.99))
        denominator = self.started or 1
        outcomes = {o: self.outcomes.get(o, 0) for o in ("completed", "abandoned", "rejected")}
        return JourneyMetrics(
            journey.id, channel, self.started, self.in_flight, outcomes,
            {o: round(n / denominator, 4) if self.started else 0.0 for o, n in outcomes.items()},
            funnel, dict(self.drop_off.most_common()), dict(self.in_flight_by_state.most_common()),
            times, cross, dict(by_channel or {}))


def _active(journey: Journey, config: str) -> list[str]:
    out: dict[str, None] = {}
    for leaf in config.split("+"):
        node: str | None = leaf
        while node is not None and node in journey.states:
            out[node] = None
            node = journey.states[node].parent
    return list(out)


def journey_metrics(journey: Journey, instances: Iterable[JourneyInstance]) -> JourneyMetrics:
    """Metrics of ``journey`` over ``instances`` (others' instances are skipped)."""
    total = _Acc()
    per: dict[str, _Acc] = defaultdict(_Acc)
    cross = 0
    for inst in instances:
        if inst.journey_id != journey.id:
            continue
        records = list(inst.records())
        if not records:
            raise TelcoflowRuntimeError(f"instance {inst.id} has no history records")
        channels = {r.channel for r in records if r.channel != "system"}
        cross += len(channels) > 1
        total.started += 1
        per[records[0].channel].started += 1
        entered_at: dict[str, tuple[float, str]] = {}
        for r in records:
            active = set(_active(journey, r.state))
            for state in [s for s in entered_at if s not in active]:
                at, ch = entered_at.pop(state)
                total.durations[state].append(r.at - at)
                per[ch].durations[state].append(r.at - at)
            for state in active:
                if state not in entered_at:
                    entered_at[state] = (r.at, r.channel)
                    total.funnel[state].add(inst.id)
                    per[r.channel].funnel[state].add(inst.id)
        last = records[-1]
        if inst.outcome is not None:
            total.outcomes[inst.outcome] += 1
            per[last.channel].outcomes[inst.outcome] += 1
            if inst.outcome != "completed" and len(records) > 1:
                total.drop_off[records[-2].state] += 1
                per[last.channel].drop_off[records[-2].state] += 1
        else:
            total.in_flight += 1
            total.in_flight_by_state[inst.state] += 1
            per[last.channel].in_flight += 1
            per[last.channel].in_flight_by_state[inst.state] += 1
    by_channel = {ch: acc.build(journey, ch) for ch, acc in sorted(per.items())}
    return total.build(journey, None, cross, by_channel)


#: The charts (funnel, outcomes, drop-off, time in state, channels): plain HTML bars, no
#: script, so the same fragment serves the report file and the studio's metrics view.
_CHARTS = """<div class="tf-metrics">
<p class="tf-summary">{{ m.started }} started, {{ m.in_flight }} in flight,
{{ m.cross_channel }} used more than one channel.</p>
<div class="tf-grid">
<section><h3>Outcomes</h3>
<table class="tf-chart">
{% for o, n in m.outcomes.items() %}<tr><th>{{ o }}</th>
<td class="tf-bar-cell"><span class="tf-bar tf-{{ o }}" style="width: {{ pct(n, m.started) }}%">
</span></td><td class="tf-num">{{ n }} ({{ "%.1f" | format(m.conversion[o] * 100) }} %)</td></tr>
{% endfor %}</table></section>
<section><h3>Funnel (instances that entered each state)</h3>
<table class="tf-chart">
{% for s, n in m.funnel.items() %}<tr><th>{{ s }}</th>
<td class="tf-bar-cell"><span class="tf-bar" style="width: {{ pct(n, m.started) }}%"></span></td>
<td class="tf-num">{{ n }}</td></tr>
{% endfor %}</table></section>
<section><h3>Drop-off points (state left for abandoned or rejected)</h3>
<table class="tf-chart">
{% for s, n in m.drop_off.items() %}<tr><th>{{ s }}</th>
<td class="tf-bar-cell"><span class="tf-bar tf-abandoned" style="width: {{ pct(n, top_drop) }}%">
</span></td><td class="tf-num">{{ n }}</td></tr>
{% else %}<tr><td colspan="3">no instance dropped off</td></tr>{% endfor %}</table></section>
<section><h3>Time in state (seconds, completed stays)</h3>
<table class="tf-table"><tr><th>state</th><th>stays</th><th>mean</th><th>p50</th><th>p90</th>
<th>p99</th></tr>
{% for s, t in m.time_in_state.items() %}<tr><th>{{ s }}</th><td>{{ t.count }}</td>
<td>{{ "%.1f" | format(t.mean) }}</td><td>{{ "%.1f" | format(t.p50) }}</td>
<td>{{ "%.1f" | format(t.p90) }}</td><td>{{ "%.1f" | format(t.p99) }}</td></tr>
{% else %}<tr><td colspan="6">no completed stay yet</td></tr>{% endfor %}</table></section>
<section><h3>By channel (where instances started)</h3>
<table class="tf-chart">
{% for ch, c in m.by_channel.items() %}<tr><th>{{ ch }}</th>
<td class="tf-bar-cell">{% for o in m.outcomes %}<span class="tf-bar tf-{{ o }}"
 title="{{ o }}: {{ c.outcomes[o] }}" style="width: {{ pct(c.outcomes[o], m.started) }}%">
</span>{% endfor %}<span class="tf-bar tf-inflight" title="in flight: {{ c.in_flight }}"
 style="width: {{ pct(c.in_flight, m.started) }}%"></span></td>
<td class="tf-num">{{ c.started }} started: {% for o in m.outcomes %}{{ c.outcomes[o] }} {{ o
}}, {% endfor %}{{ c.in_flight }} in flight</td></tr>
{% endfor %}</table></section>
</div></div>
"""

#: Styles of the charts (the studio's page includes them too).
CHART_STYLE = """
.tf-metrics { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1d2733; }
.tf-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
  gap: 12px 28px; }
.tf-metrics h3 { font-size: 14px; margin: 10px 0 6px 0; color: #33455c; }
.tf-chart, .tf-table { border-collapse: collapse; width: 100%; font-size: 13px; }
.tf-chart th, .tf-table th { text-align: left; font-weight: 600; padding: 3px 10px 3px 0;
  white-space: nowrap; }
.tf-table td { text-align: right; padding: 3px 8px; }
.tf-table tr:nth-child(even) { background: #f4f7fc; }
.tf-bar-cell { width: 55%; padding: 3px 0; }
.tf-bar { display: inline-block; height: 13px; background: #4a78c2; vertical-align: middle; }
.tf-bar.tf-completed { background: #2f7d3b; }
.tf-bar.tf-abandoned { background: #9a9a9a; }
.tf-bar.tf-rejected { background: #b0392e; }
.tf-bar.tf-inflight { background: #e0b24a; }
.tf-num { padding-left: 10px; white-space: nowrap; color: #33455c; }
"""

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Journey metrics: {{ m.journey_id }}</title>
<style>
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; margin: 2em;
  color: #1d2733; }
h1 { font-size: 22px; }
.tf-diagram-box { overflow: auto; border: 1px solid #d5dde8; padding: 8px; }
{{ chart_style }}
</style></head><body>
<h1>Journey metrics: {{ m.journey_id }}</h1>
{% if diagram %}<div class="tf-diagram-box">{{ diagram }}</div>{% endif %}
{{ charts }}
</body></html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def _pct(n: float, total: float) -> float:
    return round(100 * n / total, 1) if total else 0.0


def state_notes(metrics: JourneyMetrics) -> dict[str, str]:
    """One line per state for the diagram: entered, dropped off, and the channel split."""
    notes = {}
    for state, entered in metrics.funnel.items():
        parts = [f"{entered} in"]
        dropped = metrics.drop_off.get(state)
        if dropped:
            parts.append(f"{dropped} dropped")
        split = [f"{ch} {c.funnel.get(state, 0)}" for ch, c in metrics.by_channel.items()
                 if c.funnel.get(state)]
        if len(split) > 1:
            parts.append(" / ".join(split))
        notes[state] = " · ".join(parts)
    return notes


def metrics_charts_html(metrics: JourneyMetrics) -> str:
    """The charts of ``metrics`` as an HTML fragment (styled by :data:`CHART_STYLE`)."""
    try:
        return _ENV.from_string(_CHARTS).render(
            m=metrics, pct=_pct, top_drop=max(metrics.drop_off.values(), default=0))
    except jinja2.TemplateError as exc:
        raise TelcoflowRuntimeError(f"rendering the journey metrics charts failed: {exc}"
                                    ) from exc


def render_metrics_html(metrics: JourneyMetrics, journey: Journey | None = None) -> str:
    """An HTML report of ``metrics`` (every value escaped).

    With ``journey``, the report starts with the journey's diagram, each state annotated
    with how many instances entered it, dropped off there, and the split by channel (the
    drawing of :func:`~telcoflow.journeys.drawing.to_svg`, as in the studio).
    """
    diagram = None
    if journey is not None:
        diagram = Markup(to_svg(journey, notes=state_notes(metrics), standalone=False))
    try:
        return _ENV.from_string(_TEMPLATE).render(
            m=metrics, diagram=diagram, charts=Markup(metrics_charts_html(metrics)),
            chart_style=Markup(CHART_STYLE))
    except jinja2.TemplateError as exc:
        raise TelcoflowRuntimeError(f"rendering the journey metrics report failed: {exc}"
                                    ) from exc
