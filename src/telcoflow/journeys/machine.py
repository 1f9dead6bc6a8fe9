"""The ``transitions`` machine of a journey version, hidden behind a small chooser.

One :class:`transitions.Machine` is compiled per journey version, over the flat
configurations of :mod:`telcoflow.journeys.definition`. Given a configuration, a trigger and
a predicate saying whether a flat transition's guard holds, it answers which transition
``transitions`` fires (its semantics: the transitions of a trigger are tried in the order
they were added, the first whose conditions hold fires). The runtime's dispatch table must
always agree with it; a property test checks that.

Nothing of ``transitions`` leaks: its generated trigger methods live on a private model
object, and its exceptions are translated into ours at this boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from telcoflow._optional import requires
from telcoflow.errors import EventRejectedError, JourneyError, Problem
from telcoflow.journeys.definition import FlatTransition, Journey

with requires("journeys", "journeys"):
    from transitions import Machine, MachineError

__all__ = ["JourneyMachine"]

Allows = Callable[[FlatTransition], bool]


@contextmanager
def _translate(journey: Journey, what: str) -> Iterator[None]:
    """Turn a ``transitions`` error into ours (``raise ... from exc``)."""
    try:
        yield
    except MachineError as exc:
        raise EventRejectedError(f"journey {journey.id} v{journey.version}: {what}: "
                                 f"{exc.value}", reason="invalid-trigger") from exc
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        raise JourneyError([Problem(f"journey {journey.id} v{journey.version}: state machine "
                                    f"failed ({what}): {exc}", "E-journey-machine",
                                    journey.file)]) from exc


class _Model:
    """The private model ``transitions`` binds its generated methods to."""

    def __init__(self) -> None:
        self.state = ""
        self.chosen: FlatTransition | None = None
        self.allows: Allows | None = None


class JourneyMachine:
    """A compiled ``transitions.Machine`` for one journey version."""

    __slots__ = ("_events", "_machine", "_model", "journey")

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self._model = _Model()
        specs: list[dict[str, Any]] = []
        for t in journey.transitions:
            specs.append({
                "trigger": t.trigger, "source": t.source, "dest": t.target,
                "conditions": [self._condition(t)], "after": [self._after(t)],
            })
        with _translate(journey, "building"):
            self._machine = Machine(
                model=self._model, states=list(journey.configurations), initial=journey.initial,
                transitions=specs, auto_transitions=False, send_event=True,
                ignore_invalid_triggers=False, model_override=False,
                name=f"{journey.id}-v{journey.version}")
        self._events = self._machine.events

    @staticmethod
    def _condition(t: FlatTransition) -> Callable[[Any], bool]:
        def condition(event: Any) -> bool:
            allows: Allows = event.model.allows
            return allows(t)

        return condition

    @staticmethod
    def _after(t: FlatTransition) -> Callable[[Any], None]:
        def after(event: Any) -> None:
            event.model.chosen = t

        return after

    def choose(self, state: str, trigger: str, allows: Allows) -> FlatTransition | None:
        """The transition ``transitions`` fires from ``state`` on ``trigger`` (None: none).

        Raises :class:`~telcoflow.errors.EventRejectedError` when ``trigger`` is not valid in
        ``state``.
        """
        model = self._model
        event = self._events.get(trigger)
        if event is None:
            raise EventRejectedError(f"journey {self.journey.id} v{self.journey.version}: "
                                     f"unknown trigger {trigger!r}", reason="unknown-trigger")
        model.state = state
        model.chosen = None
        model.allows = allows
        try:
            with _translate(self.journey, f"trigger {trigger!r} in state {state!r}"):
                event.trigger(model)
        finally:
            model.allows = None
        chosen = model.chosen
        if chosen is not None and model.state != chosen.target:
            raise JourneyError([Problem(
                f"transitions moved to {model.state!r} but the compiled transition targets "
                f"{chosen.target!r}", "E-journey-machine", self.journey.file)])
        return chosen
