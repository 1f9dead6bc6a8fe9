"""Public test helpers for code that embeds telcoflow.

* journey path tests: :func:`journey_paths`, :func:`journey_path_params` (pytest parameters
  covering every state / transition), :func:`run_journey_path`, :func:`noop_actions`;
* :class:`ManualClock`, a clock tests drive by hand (journey deadlines, reservations);
* rule packs' own test cases: :func:`run_pack_tests` (:class:`CaseResult` per case); the
  pytest plugin (:mod:`telcoflow.testing.pytest_plugin`) collects them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telcoflow._lazy import lazy_exports

if TYPE_CHECKING:
    from telcoflow.testing.journeys import (
        ManualClock,
        journey_path_params,
        journey_paths,
        noop_actions,
        run_journey_path,
    )
    from telcoflow.testing.packs import CaseResult, run_pack_tests

__all__ = [
    "CaseResult",
    "ManualClock",
    "journey_path_params",
    "journey_paths",
    "noop_actions",
    "run_journey_path",
    "run_pack_tests",
]


# Lazy: the pytest plugin lives in this package and must import cheaply.
__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(__all__, "telcoflow.testing.journeys"),
    "CaseResult": "telcoflow.testing.packs",
    "run_pack_tests": "telcoflow.testing.packs",
})
