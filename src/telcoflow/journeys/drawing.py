"""Journey diagrams (the drawing; :mod:`.diagrams` is the public entry point).

SVG drawn by telcoflow itself (layout in :mod:`.layout`, no system binary), the HTML page or
fragment around it (the notebook repr, ``journey diagram --format html``, the studio and the
metrics report show this same drawing), Mermaid ``stateDiagram-v2`` and Graphviz DOT text.

The diagrams follow the YAML as written (nested and parallel states drawn as such), not the
flat configurations the runtime uses. Edge labels read ``trigger [guard] / action, action``;
a timeout reads ``after 15m``; a return to a history state reads ``(history)``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Protocol

from telcoflow.journeys.layout import LABEL_SIZE, NAME_SIZE, NOTE_SIZE, Layout, layout_chart
from telcoflow.journeys.models import TransitionSpec
from telcoflow.journeys.nodes import TIMEOUT_PREFIX, FlatTransition, StateNode

__all__ = [
    "SVG_STYLE",
    "Drawable",
    "label_lines",
    "to_dot",
    "to_html",
    "to_html_page",
    "to_mermaid",
    "to_svg",
]


class Drawable(Protocol):
    """What the diagrams read of a journey (a :class:`~.compiled.Journey` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def title(self) -> str | None: ...
    @property
    def initial(self) -> str: ...
    @property
    def states(self) -> Mapping[str, StateNode]: ...
    @property
    def configurations(self) -> tuple[str, ...]: ...
    @property
    def transitions(self) -> tuple[FlatTransition, ...]: ...
    @property
    def declared(self) -> tuple[tuple[str, str, TransitionSpec, str], ...]: ...


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _label(journey: Drawable, source: str, trigger: str, spec: TransitionSpec) -> str:
    if trigger.startswith(TIMEOUT_PREFIX):
        text = f"after {_duration(journey.states[source].timeout or 0)}"
    elif trigger == "@done":
        text = "done"
    else:
        text = trigger
    if spec.guard:
        text += f" [{spec.guard}]"
    if spec.actions:
        text += " / " + ", ".join(spec.actions)
    if spec.resume:
        text += " (history)"
    return text


def _mid(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", path)


def to_mermaid(journey: Drawable) -> str:
    """Mermaid ``stateDiagram-v2`` text for ``journey``."""
    lines = ["stateDiagram-v2"]
    if journey.title:
        lines.insert(0, f"---\ntitle: {journey.title} (v{journey.version})\n---")

    def emit_states(paths: tuple[str, ...], indent: str) -> None:
        for path in paths:
            node = journey.states[path]
            name = path.rsplit(".", 1)[-1]
            if node.kind == "leaf":
                lines.append(f'{indent}state "{name}" as {_mid(path)}')
                continue
            lines.append(f'{indent}state "{name}" as {_mid(path)}')
            lines.append(f"{indent}state {_mid(path)} {{")
            if node.kind == "parallel":
                for i, region in enumerate(node.children):
                    if i:
                        lines.append(f"{indent}    --")
                    rnode = journey.states[region]
                    lines.append(f'{indent}    state "{region.rsplit(".", 1)[-1]}" as '
                                 f"{_mid(region)}")
                    lines.append(f"{indent}    state {_mid(region)} {{")
                    if rnode.initial:
                        lines.append(f"{indent}        [*] --> {_mid(rnode.initial)}")
                    emit_states(rnode.children, indent + "        ")
                    for child in rnode.children:
                        if journey.states[child].final:
                            lines.append(f"{indent}        {_mid(child)} --> [*]")
                    lines.append(f"{indent}    }}")
            else:
                if node.initial:
                    lines.append(f"{indent}    [*] --> {_mid(node.initial)}")
                emit_states(node.children, indent + "    ")
            lines.append(f"{indent}}}")

    top = tuple(p for p, n in journey.states.items() if n.parent is None)
    emit_states(top, "    ")
    first = journey.initial.split("+")[0].split(".")[0]
    lines.append(f"    [*] --> {_mid(first)}")
    for source, trigger, spec, target in journey.declared:
        label = _label(journey, source, trigger, spec).replace(":", "#58;")
        lines.append(f"    {_mid(source)} --> {_mid(target)} : {label}")
    for path in top:
        node = journey.states[path]
        if node.outcome:
            lines.append(f"    {_mid(path)} --> [*]")
            lines.append(f"    note right of {_mid(path)} : outcome {node.outcome}")
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(journey: Drawable) -> str:
    """Graphviz DOT text for ``journey`` (compound states as clusters)."""
    out = [f"digraph {_q(journey.id)} {{", "    compound=true;", "    rankdir=LR;",
           '    node [shape=box, style=rounded, fontname="Helvetica"];',
           '    edge [fontname="Helvetica", fontsize=10];',
           '    __start [shape=point, width=0.15, label=""];']

    def anchor(path: str) -> str:
        node = journey.states[path]
        while node.kind != "leaf":
            child = node.initial if node.kind == "compound" else node.children[0]
            if child is None:
                break
            node = journey.states[child]
        return node.path

    def emit(paths: tuple[str, ...], indent: str) -> None:
        for path in paths:
            node = journey.states[path]
            name = path.rsplit(".", 1)[-1]
            if node.kind == "leaf":
                attrs = [f"label={_q(name)}"]
                if node.outcome:
                    # one label: the outcome only when it says something the name does not
                    attrs.append("peripheries=2")
                    if node.outcome != name:
                        attrs.append(f"xlabel={_q(node.outcome)}")
                elif node.final:
                    attrs.append("peripheries=2")
                out.append(f"{indent}{_q(path)} [{', '.join(attrs)}];")
                continue
            style = "dashed" if journey.states[path].parent and journey.states[
                node.parent or ""].kind == "parallel" else "rounded"
            label = name + (" (parallel)" if node.kind == "parallel" else "") + (
                " (H)" if node.history else "")
            out.append(f"{indent}subgraph {_q('cluster_' + path)} {{")
            out.append(f"{indent}    label={_q(label)}; style={style};")
            emit(node.children, indent + "    ")
            out.append(f"{indent}}}")

    emit(tuple(p for p, n in journey.states.items() if n.parent is None), "    ")
    out.append(f"    __start -> {_q(journey.initial.split('+')[0])};")
    for source, trigger, spec, target in journey.declared:
        attrs = [f"label={_q(_label(journey, source, trigger, spec))}"]
        if journey.states[source].kind != "leaf":
            attrs.append(f"ltail={_q('cluster_' + source)}")
        if journey.states[target].kind != "leaf":
            attrs.append(f"lhead={_q('cluster_' + target)}")
        if trigger.startswith(TIMEOUT_PREFIX):
            attrs.append("style=dashed")
        out.append(f"    {_q(anchor(source))} -> {_q(anchor(target))} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def to_html(journey: Drawable) -> str:
    """The drawing as an HTML fragment (the notebook repr): title, the SVG, and the
    transitions as a table (the Mermaid source folded underneath)."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(src)}</td><td>{esc(_label(journey, src, trig, spec))}</td>"
        f"<td>{esc(tgt)}</td></tr>" for src, trig, spec, tgt in journey.declared)
    title = esc(journey.title or journey.id)
    return (f"<div class=\"telcoflow-journey\"><h4>{title} "
            f"<small>{esc(journey.id)} v{journey.version}</small></h4>"
            f"<p>{len(journey.states)} states, {len(journey.configurations)} configurations, "
            f"{len(journey.transitions)} compiled transitions</p>"
            f"<div style=\"overflow:auto\">{to_svg(journey, standalone=False)}</div>"
            f"<details><summary>transitions</summary>"
            f"<table><thead><tr><th>from</th><th>on</th><th>to</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            f"<pre class=\"mermaid\">{esc(to_mermaid(journey))}</pre></details></div>")


def to_html_page(journey: Drawable) -> str:
    """A whole HTML page with the drawing (``journey diagram --format html``)."""
    esc = html.escape
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(journey.title or journey.id)}</title>"
            "<style>body { font-family: \"DejaVu Sans\", \"Helvetica Neue\", Arial, "
            "sans-serif; margin: 2em; color: #1d2733; } table { border-collapse: collapse; } "
            "td, th { border: 1px solid #d5dde8; padding: 2px 8px; text-align: left; }"
            "</style></head><body>\n" + to_html(journey) + "\n</body></html>\n")


# --------------------------------------------------------------------------- SVG


def label_lines(journey: Drawable, source: str, trigger: str,
                spec: TransitionSpec) -> tuple[str, ...]:
    """An edge label as lines: the trigger (or ``after 15m``), ``[guard]``, ``/ actions``."""
    if trigger.startswith(TIMEOUT_PREFIX):
        first = f"after {_duration(journey.states[source].timeout or 0)}"
    elif trigger == "@done":
        first = "done"
    elif trigger == "@always":
        first = "always"
    else:
        first = trigger
    if spec.resume:
        first += " (history)"
    lines = [first]
    if spec.guard:
        lines.append(f"[{spec.guard}]")
    if spec.actions:
        lines.append("/ " + ", ".join(spec.actions))
    return tuple(lines)


#: The drawing's CSS (also used by the studio page, which restyles ``.active`` and notes).
SVG_STYLE = f"""
.tf-diagram {{ font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; }}
.tf-diagram .state rect.box {{ fill: #f4f7fc; stroke: #47638f; stroke-width: 1.3; }}
.tf-diagram .state.cluster > rect.box {{ fill: #fbfcfe; stroke: #8fa1bd; }}
.tf-diagram .state.region > rect.box {{ fill: #ffffff; stroke: #8fa1bd;
  stroke-dasharray: 5 4; }}
.tf-diagram .state rect.inner {{ fill: none; stroke: #47638f; stroke-width: 1; }}
.tf-diagram .state.outcome-completed rect.box {{ fill: #eaf6ec; stroke: #2f7d3b; }}
.tf-diagram .state.outcome-abandoned rect.box {{ fill: #f1f1f1; stroke: #6b6b6b; }}
.tf-diagram .state.outcome-rejected rect.box {{ fill: #fbeceb; stroke: #b0392e; }}
.tf-diagram .state.active > rect.box {{ fill: #ffe8a3; stroke: #c77700; stroke-width: 2.6; }}
.tf-diagram .state.cluster.active > rect.box,
.tf-diagram .state.region.active > rect.box {{ fill: #fff8e1; stroke: #c77700;
  stroke-width: 2.2; }}
.tf-diagram text.name {{ font-size: {NAME_SIZE}px; fill: #1d2733; font-weight: 600; }}
.tf-diagram text.kind {{ font-size: {NOTE_SIZE}px; fill: #5b6b80; }}
.tf-diagram text.note {{ font-size: {NOTE_SIZE}px; fill: #7a3e00; font-weight: 600; }}
.tf-diagram text.outcome {{ font-size: {NOTE_SIZE}px; fill: #3d4b5c; font-style: italic; }}
.tf-diagram .edge path {{ fill: none; stroke: #5d6f8a; stroke-width: 1.3; }}
.tf-diagram .edge.timeout path {{ stroke-dasharray: 5 4; }}
.tf-diagram .edge.taken path {{ stroke: #c77700; stroke-width: 2.4; }}
.tf-diagram .edge rect.label {{ fill: #ffffff; fill-opacity: 0.92; stroke: none; }}
.tf-diagram .edge text {{ font-size: {LABEL_SIZE}px; fill: #26364a; }}
.tf-diagram .edge text .guard {{ fill: #6a4c9c; }}
.tf-diagram .edge text .acts {{ fill: #2f6b52; }}
.tf-diagram .start {{ fill: #1d2733; }}
.tf-diagram .history {{ fill: #ffffff; stroke: #47638f; }}
.tf-diagram .history-text {{ font-size: 10px; font-weight: 700; fill: #47638f; }}
"""


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _path_d(points: list[tuple[float, float]]) -> str:
    """A smooth path through ``points`` (quadratic curves through the midpoints)."""
    if len(points) <= 2:
        return "M " + " L ".join(f"{_f(x)} {_f(y)}" for x, y in points)
    out = [f"M {_f(points[0][0])} {_f(points[0][1])}"]
    for i in range(1, len(points) - 1):
        (x, y), (nx_, ny) = points[i], points[i + 1]
        mid = ((x + nx_) / 2, (y + ny) / 2) if i < len(points) - 2 else (nx_, ny)
        out.append(f"Q {_f(x)} {_f(y)} {_f(mid[0])} {_f(mid[1])}")
    return " ".join(out)


def _chart_layout(journey: Drawable, notes: Mapping[str, str] | None) -> Layout:
    edges = [(source, target, trigger, label_lines(journey, source, trigger, spec),
              trigger.startswith(TIMEOUT_PREFIX))
             for source, trigger, spec, target in journey.declared]
    return layout_chart(journey.states, journey.initial, edges, notes)


def to_svg(journey: Drawable, *, active: tuple[str, ...] | frozenset[str] = (),
           taken: tuple[str, str, str] | None = None,
           notes: Mapping[str, str] | None = None, standalone: bool = True) -> str:
    """The journey drawn as SVG: clusters for compound and parallel states.

    ``active`` names states to highlight (an instance's active configuration: leaves and
    their ancestors); ``taken`` is a ``(source, trigger, target)`` transition to highlight;
    ``notes`` adds one line to a state's box (the metrics' counts). Every state is a
    ``<g class="state" data-state="PATH">`` and every transition a ``<g class="edge"
    data-source=... data-trigger=... data-target=...>``, so a page can restyle them.
    ``standalone`` adds the XML declaration and namespace for a ``.svg`` file.
    """
    esc = html.escape
    lay = _chart_layout(journey, notes)
    actives = set(active)
    title = journey.title or journey.id
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tf-diagram" '
        f'width="{_f(lay.width)}" height="{_f(lay.height)}" '
        f'viewBox="0 0 {_f(lay.width)} {_f(lay.height)}" role="img" '
        f'aria-label="{esc(title)}" data-journey="{esc(journey.id)}">',
        f"<title>{esc(title)} (v{journey.version})</title>",
        f"<style>{SVG_STYLE}</style>",
        '<defs><marker id="tf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#5d6f8a"/></marker>'
        '<marker id="tf-arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#c77700"/></marker></defs>',
    ]
    # clusters first (outer before inner: document order of the states), then leaves
    def depth(path: str) -> int:
        parent, n = journey.states[path].parent, 0
        while parent is not None:
            parent, n = journey.states[parent].parent, n + 1
        return n

    ordered = sorted(lay.boxes.values(), key=lambda b: (b.kind == "leaf", depth(b.path),
                                                         journey.states[b.path].order))
    for box in ordered:
        classes = ["state", "leaf" if box.kind == "leaf" else "cluster"]
        if box.kind == "region":
            classes.append("region")
        if box.outcome:
            classes.append(f"outcome-{box.outcome}")
        if box.final:
            classes.append("final")
        if box.path in actives:
            classes.append("active")
        parts.append(f'<g class="{" ".join(classes)}" data-state="{esc(box.path)}">')
        parts.append(f'<rect class="box" x="{_f(box.x)}" y="{_f(box.y)}" width="{_f(box.w)}" '
                     f'height="{_f(box.h)}" rx="{9 if box.kind == "leaf" else 6}"/>')
        if box.final and box.kind == "leaf":
            parts.append(f'<rect class="inner" x="{_f(box.x + 3.5)}" y="{_f(box.y + 3.5)}" '
                         f'width="{_f(box.w - 7)}" height="{_f(box.h - 7)}" rx="6"/>')
        if box.kind == "leaf":
            lines = [("name", box.name)]
            if box.outcome and box.outcome != box.name:
                lines.append(("outcome", f"outcome: {box.outcome}"))
            if box.note:
                lines.append(("note", box.note))
            top = box.y + (box.h - 17 * len(lines)) / 2 + 12.5
            for n, (cls, text) in enumerate(lines):
                parts.append(f'<text class="{cls}" x="{_f(box.x + box.w / 2)}" '
                             f'y="{_f(top + 17 * n)}" text-anchor="middle">{esc(text)}</text>')
        else:
            kind = {"parallel": " (parallel)", "region": " (region)"}.get(box.kind, "")
            parts.append(f'<text class="name" x="{_f(box.x + 10)}" y="{_f(box.y + 17)}">'
                         f'{esc(box.name)}<tspan class="kind">{kind}</tspan></text>')
            if box.note:
                parts.append(f'<text class="note" x="{_f(box.x + box.w - 10)}" '
                             f'y="{_f(box.y + 17)}" text-anchor="end">{esc(box.note)}</text>')
            if box.history:
                # top right, or bottom right when a note takes the top right
                hx = box.x + box.w - 16
                hy = box.y + box.h - 14 if box.note else box.y + 13
                parts.append(f'<circle class="history" cx="{_f(hx)}" cy="{_f(hy)}" r="9"/>'
                             f'<text class="history-text" x="{_f(hx)}" y="{_f(hy + 3.5)}" '
                             f'text-anchor="middle">{"H*" if box.history == "deep" else "H"}'
                             "</text>")
        parts.append("</g>")
    for (cx, cy), line in lay.starts:
        parts.append(f'<circle class="start" cx="{_f(cx)}" cy="{_f(cy)}" r="6"/>')
        parts.append(f'<g class="edge initial"><path d="{_path_d(line)}" '
                     'marker-end="url(#tf-arrow)"/></g>')
    for edge in lay.edges:
        classes = ["edge"]
        if edge.dashed:
            classes.append("timeout")
        is_taken = taken is not None and taken == (edge.source, edge.trigger, edge.target)
        if is_taken:
            classes.append("taken")
        marker = "tf-arrow-taken" if is_taken else "tf-arrow"
        parts.append(f'<g class="{" ".join(classes)}" data-source="{esc(edge.source)}" '
                     f'data-trigger="{esc(edge.trigger)}" data-target="{esc(edge.target)}">')
        parts.append(f'<path d="{_path_d(edge.points)}" marker-end="url(#{marker})"/>')
        if edge.label_box is not None:
            lx, ly, lw, lh = edge.label_box
            parts.append(f'<rect class="label" x="{_f(lx)}" y="{_f(ly)}" width="{_f(lw)}" '
                         f'height="{_f(lh)}" rx="3"/>')
            anchor, tx = ("start", lx + 5) if edge.loop else ("middle", lx + lw / 2)
            spans = []
            for n, text in enumerate(edge.label):
                cls = "guard" if text.startswith("[") else "acts" if text.startswith(
                    "/ ") else "trig"
                spans.append(f'<tspan class="{cls}" x="{_f(tx)}" '
                             f'y="{_f(ly + 14 + 15 * n)}">{esc(text)}</tspan>')
            parts.append(f'<text text-anchor="{anchor}">{"".join(spans)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    body = "\n".join(parts) + "\n"
    if standalone:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body
    return body
