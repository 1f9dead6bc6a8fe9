"""Journey diagrams: SVG, an HTML page, Mermaid ``stateDiagram-v2`` and Graphviz DOT.

The drawing lives in :mod:`.drawing` (it needs only what :class:`~.drawing.Drawable` lists,
so the compiled :class:`~.compiled.Journey` can use it for notebook display without an import
cycle); this module adds :func:`render_diagram`, which also loads a journey file.
"""

from __future__ import annotations

from pathlib import Path

from telcoflow.errors import ArgumentError
from telcoflow.journeys.compiled import Journey
from telcoflow.journeys.drawing import (
    Drawable,
    to_dot,
    to_html,
    to_html_page,
    to_mermaid,
    to_svg,
)
from telcoflow.journeys.loader import load_journey

__all__ = ["DIAGRAM_FORMATS", "Drawable", "render_diagram", "to_dot", "to_html", "to_mermaid",
           "to_svg"]

#: Formats of :func:`render_diagram`.
DIAGRAM_FORMATS = ("mermaid", "dot", "svg", "html")


def render_diagram(source: Journey | str | Path, fmt: str = "mermaid") -> str:
    """A journey's diagram (of the journey file at ``source``) in a format of
    :data:`DIAGRAM_FORMATS`: ``mermaid`` or ``dot`` text, an ``svg`` drawing, or an ``html``
    page showing it.

    This is what ``telcoflow journey diagram PATH --format mermaid|dot|svg|html`` prints.
    """
    if fmt not in DIAGRAM_FORMATS:
        raise ArgumentError(f"format must be one of {DIAGRAM_FORMATS} (got {fmt!r})")
    if not isinstance(source, Journey):
        source = load_journey(source)
    renderers = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg, "html": to_html_page}
    return renderers[fmt](source)
