"""Journey diagrams as text (the drawing; :mod:`.diagrams` is the public entry point).

Mermaid ``stateDiagram-v2`` and Graphviz DOT, plus an HTML summary for notebooks.

The diagrams follow the YAML as written (nested and parallel states drawn as such), not the
flat configurations the runtime uses. Edge labels read ``trigger [guard] / action, action``;
a timeout reads ``after 15m``; a return to a history state reads ``(history)``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Protocol

from telcoflow.journeys.models import TransitionSpec
from telcoflow.journeys.nodes import TIMEOUT_PREFIX, FlatTransition, StateNode

__all__ = ["Drawable", "to_dot", "to_html", "to_mermaid"]


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
                    attrs += ["peripheries=2", f"xlabel={_q(node.outcome)}"]
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
    """A small HTML summary (for notebooks): states, transitions and the Mermaid source."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(src)}</td><td>{esc(_label(journey, src, trig, spec))}</td>"
        f"<td>{esc(tgt)}</td></tr>" for src, trig, spec, tgt in journey.declared)
    title = esc(journey.title or journey.id)
    return (f"<div class=\"telcoflow-journey\"><h4>{title} "
            f"<small>{esc(journey.id)} v{journey.version}</small></h4>"
            f"<p>{len(journey.states)} states, {len(journey.configurations)} configurations, "
            f"{len(journey.transitions)} compiled transitions</p>"
            f"<table><thead><tr><th>from</th><th>on</th><th>to</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            f"<pre class=\"mermaid\">{esc(to_mermaid(journey))}</pre></div>")
