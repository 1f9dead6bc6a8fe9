"""Journey definitions: the public names of loading and of the compiled journey, in one place.

Loading is split by concern: :mod:`.models` (the YAML's shape), :mod:`.builder` (the state
tree and its structural rules), :mod:`.semantics` (the W3C SCXML algorithm),
:mod:`.compiler` (every reachable configuration and step), :mod:`.lint` (business checks
with levels), :mod:`.loader` (the entry points) and :mod:`.compiled` (:class:`Journey`).

Nested and parallel states are compiled into *configurations*: the set of active leaf states,
written ``leaf`` or ``checkout.kyc.pending+checkout.payment.pending`` for parallel regions.
Each event in each configuration becomes one or more :class:`FlatTransition` candidates with
every effect worked out (entered and exited states, deadlines, history memory), so that the
runtime only looks them up. The semantics are SCXML's; see docs/journeys.md.
"""

from __future__ import annotations

from telcoflow.journeys.builder import GUARD_BUILTINS
from telcoflow.journeys.compiled import Journey
from telcoflow.journeys.loader import (
    load_journey,
    load_journeys,
    parse_journey,
    validate_journey_files,
)
from telcoflow.journeys.nodes import (
    DONE_PREFIX,
    EVENTLESS,
    TIMEOUT_PREFIX,
    FlatTransition,
    Guard,
    StateNode,
)

__all__ = [
    "DONE_PREFIX",
    "EVENTLESS",
    "GUARD_BUILTINS",
    "TIMEOUT_PREFIX",
    "FlatTransition",
    "Guard",
    "Journey",
    "StateNode",
    "load_journey",
    "load_journeys",
    "parse_journey",
    "validate_journey_files",
]
