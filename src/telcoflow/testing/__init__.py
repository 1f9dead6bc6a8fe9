"""Public test helpers for code that embeds telcoflow.

* journey path tests: :func:`journey_paths`, :func:`journey_path_params` (pytest parameters
  covering every state / transition), :func:`run_journey_path`, :func:`noop_actions`;
* :class:`ManualClock`, a clock tests drive by hand (journey deadlines, reservations);
* the pytest plugin (:mod:`telcoflow.testing.pytest_plugin`) collects rule-pack test cases.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telcoflow.testing.journeys import (
        ManualClock,
        journey_path_params,
        journey_paths,
        noop_actions,
        run_journey_path,
    )

__all__ = [
    "ManualClock",
    "journey_path_params",
    "journey_paths",
    "noop_actions",
    "run_journey_path",
]


def __getattr__(name: str) -> Any:
    # Lazy: the pytest plugin lives in this package and must import cheaply.
    if name in __all__:
        return getattr(importlib.import_module("telcoflow.testing.journeys"), name)
    raise AttributeError(f"module 'telcoflow.testing' has no attribute {name!r}")
