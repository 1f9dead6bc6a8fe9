"""Journey diagrams as text: Mermaid ``stateDiagram-v2`` and Graphviz DOT, plus HTML display.

The drawing lives in :mod:`.drawing` (it needs only what :class:`~.drawing.Drawable` lists,
so the compiled :class:`~.compiled.Journey` can use it for notebook display without an import
cycle); this module adds :func:`render_diagram`, which also loads a journey file.
"""

from __future__ import annotations

from pathlib import Path

from telcoflow.journeys.compiled import Journey
from telcoflow.journeys.drawing import Drawable, to_dot, to_html, to_mermaid
from telcoflow.journeys.loader import load_journey

__all__ = ["DIAGRAM_FORMATS", "Drawable", "render_diagram", "to_dot", "to_html", "to_mermaid"]

#: Formats of :func:`render_diagram`.
DIAGRAM_FORMATS = ("mermaid", "dot")


def render_diagram(source: Journey | str | Path, fmt: str = "mermaid") -> str:
    """Diagram text of a journey (or of the journey file at ``source``): ``mermaid`` or ``dot``.

    This is what ``telcoflow journey diagram PATH --format mermaid|dot`` prints.
    """
    if fmt not in DIAGRAM_FORMATS:
        raise ValueError(f"format must be one of {DIAGRAM_FORMATS} (got {fmt!r})")
    if not isinstance(source, Journey):
        source = load_journey(source)
    return to_mermaid(source) if fmt == "mermaid" else to_dot(source)
