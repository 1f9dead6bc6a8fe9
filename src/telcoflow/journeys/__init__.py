"""Customer journeys: YAML state machines (nested, parallel, history, timeouts) and their runtime.

Load a definition with :func:`load_journey` (every problem reported at once, with file and
line), run instances with :class:`JourneyRuntime`, keep them in a :class:`JourneyStore`
(backends in :mod:`telcoflow.stores`: memory, SQLite, PostgreSQL), draw them
(:func:`to_mermaid`, :func:`to_dot`) and measure them (:func:`journey_metrics`). See
``docs/journeys.md``.
"""

from telcoflow.journeys.actions import ActionRegistry
from telcoflow.journeys.definition import (
    Journey,
    load_journey,
    load_journeys,
    parse_journey,
    validate_journey_files,
)
from telcoflow.journeys.diagrams import render_diagram, to_dot, to_html, to_mermaid
from telcoflow.journeys.instance import JourneyInstance, ManualClock, SendResult, TransitionRecord
from telcoflow.journeys.metrics import JourneyMetrics, journey_metrics, render_metrics_html
from telcoflow.journeys.models import JourneyFile
from telcoflow.journeys.paths import JourneyPath, shortest_paths, transition_cover
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.journeys.store import JourneyStore

__all__ = [
    "ActionRegistry",
    "Journey",
    "JourneyFile",
    "JourneyInstance",
    "JourneyMetrics",
    "JourneyPath",
    "JourneyRuntime",
    "JourneyStore",
    "ManualClock",
    "SendResult",
    "TransitionRecord",
    "journey_metrics",
    "load_journey",
    "load_journeys",
    "parse_journey",
    "render_diagram",
    "render_metrics_html",
    "shortest_paths",
    "to_dot",
    "to_html",
    "to_mermaid",
    "transition_cover",
    "validate_journey_files",
]
