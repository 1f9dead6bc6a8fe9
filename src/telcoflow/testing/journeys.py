"""Path tests for journeys: graph-generated paths as pytest parameters, and a path runner.

::

    JOURNEY = load_journey("journeys/top_up.yaml")

    @pytest.mark.parametrize("path", journey_path_params(JOURNEY, "transitions"))
    def test_every_transition(path):
        runtime = JourneyRuntime(MemoryJourneyStore(), [JOURNEY], actions=noop_actions(JOURNEY))
        run_journey_path(runtime, path, payloads={"choose_amount": {"amount": 10}})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from telcoflow.errors import ArgumentError
from telcoflow.journeys.actions import ActionRegistry
from telcoflow.journeys.definition import Journey
from telcoflow.journeys.instance import SYSTEM_CHANNEL, JourneyInstance, ManualClock
from telcoflow.journeys.paths import JourneyPath, PathStep, shortest_paths, transition_cover
from telcoflow.journeys.runtime import JourneyRuntime

__all__ = [
    "ManualClock",
    "journey_path_params",
    "journey_paths",
    "noop_actions",
    "run_journey_path",
]

#: Payloads for steps: by ``(trigger, target)``, by ``trigger``, or a function of the step.
Payloads = Mapping[Any, Mapping[str, Any]] | Callable[[PathStep], Mapping[str, Any] | None]


def journey_paths(journey: Journey, kind: str = "transitions") -> list[JourneyPath]:
    """``"states"``: a shortest path to every state; ``"transitions"``: a transition cover."""
    if kind == "states":
        return shortest_paths(journey)
    if kind == "transitions":
        return transition_cover(journey)
    raise ArgumentError(f"kind must be 'states' or 'transitions' (got {kind!r})")


def journey_path_params(journey: Journey, kind: str = "transitions") -> list[Any]:
    """:func:`journey_paths` as ``pytest.param`` objects with readable ids."""
    import pytest

    return [pytest.param(p, id=p.id) for p in journey_paths(journey, kind)]


def noop_actions(*journeys: Journey) -> ActionRegistry:
    """A registry with a do-nothing action for every action the journeys list."""
    registry = ActionRegistry()

    def noop(**_: Any) -> None:
        return None

    for journey in journeys:
        for name in journey.actions:
            if name not in registry:
                registry.add(name, noop)
    return registry


def _payload(payloads: Payloads | None, step: PathStep) -> Mapping[str, Any] | None:
    if payloads is None:
        return None
    if callable(payloads):
        return payloads(step)
    found = payloads.get((step.trigger, step.target))
    return found if found is not None else payloads.get(step.trigger)


def run_journey_path(runtime: JourneyRuntime, path: JourneyPath, *, channel: str = "app",
                     payloads: Payloads | None = None,
                     context: Mapping[str, Any] | None = None) -> JourneyInstance:
    """Start an instance and take every step of ``path``, asserting the state after each.

    Timeout steps fire the state's deadline at its due time. Raises ``AssertionError`` naming
    the step when the journey goes elsewhere (usually: a guard needs a payload).
    """
    inst = runtime.start(path.journey_id, version=path.version, channel=channel,
                         context=context)
    for n, step in enumerate(path.steps, 1):
        assert inst.state == step.source, (
            f"{path.id}: before step {n} ({step.trigger}) expected state {step.source!r}, "
            f"found {inst.state!r}")
        if step.is_timeout:
            due = next(d for d, s in inst.deadlines if s == step.timeout_state)
            result = runtime.send(inst, step.trigger, channel=SYSTEM_CHANNEL, now=due)
        else:
            result = runtime.send(inst, step.trigger, _payload(payloads, step), channel=channel)
        assert result.moved, f"{path.id}: step {n} ({step.trigger}) did not move (guard?)"
        assert inst.state == step.target, (
            f"{path.id}: step {n} ({step.trigger} [{step.guard or 'no guard'}]) expected "
            f"{step.target!r}, found {inst.state!r} (moved={result.moved})")
    return inst
