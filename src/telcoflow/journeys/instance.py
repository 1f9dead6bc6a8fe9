"""Journey instances as plain data, and the records of their transitions.

An instance is small on purpose (``__slots__``, interned state names, history kept as one flat
list of ``at, trigger, state, channel`` items): a million idle instances fit in well under a
gigabyte. Instances hold no reference to a machine; the runtime finds the compiled definition
by ``(journey_id, journey_version)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from telcoflow.journeys.nodes import FlatTransition

__all__ = [
    "MIGRATE_TRIGGER",
    "START_TRIGGER",
    "SYSTEM_CHANNEL",
    "JourneyInstance",
    "ManualClock",
    "SendResult",
    "TransitionRecord",
]

#: Trigger of the first history record (the instance was started).
START_TRIGGER = "@start"
#: Trigger of the record left by a migration to another version.
MIGRATE_TRIGGER = "@migrate"
#: Channel of events the journey raises itself (timeouts, migrations).
SYSTEM_CHANNEL = "system"


class TransitionRecord(NamedTuple):
    """One history record: at ``at`` (POSIX seconds) ``trigger`` moved the instance to ``state``."""

    at: float
    trigger: str
    state: str
    channel: str


class JourneyInstance:
    """One customer's journey: plain data, moved only by :class:`~.runtime.JourneyRuntime`.

    ``history`` is a flat list ``[at, trigger, state, channel, at, trigger, ...]``; read it
    with :meth:`records`. Every change of ``version`` appends exactly one record, so the
    record count is ``version + 1`` (the first is the start).
    ``deadlines`` is a tuple of ``(due, state)`` sorted by due time; ``memory`` maps a
    ``history: true`` state to the configuration it had when last left.
    """

    __slots__ = ("context", "deadlines", "history", "id", "journey_id", "journey_version",
                 "memory", "outcome", "state", "version")

    def __init__(self, id: str, journey_id: str, journey_version: int, state: str,
                 context: dict[str, Any], history: list[Any],
                 deadlines: tuple[tuple[float, str], ...] = (),
                 memory: dict[str, str] | None = None, version: int = 0,
                 outcome: str | None = None) -> None:
        self.id = id
        self.journey_id = journey_id
        self.journey_version = journey_version
        self.state = state
        self.context = context
        self.history = history
        self.deadlines = deadlines
        self.memory = memory
        self.version = version
        self.outcome = outcome

    def records(self) -> Iterator[TransitionRecord]:
        """The history as :class:`TransitionRecord` items, oldest first."""
        h = self.history
        for i in range(0, len(h), 4):
            yield TransitionRecord(h[i], h[i + 1], h[i + 2], h[i + 3])

    @property
    def next_deadline(self) -> float | None:
        """The earliest due time, or ``None``."""
        return self.deadlines[0][0] if self.deadlines else None

    @property
    def finished(self) -> bool:
        """True once the instance reached a final state."""
        return self.outcome is not None

    def copy(self) -> JourneyInstance:
        """An independent copy (context, history and memory copied)."""
        return JourneyInstance(self.id, self.journey_id, self.journey_version, self.state,
                               dict(self.context), list(self.history), self.deadlines,
                               dict(self.memory) if self.memory is not None else None,
                               self.version, self.outcome)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-friendly apart from context values)."""
        return {
            "id": self.id, "journey_id": self.journey_id,
            "journey_version": self.journey_version, "state": self.state,
            "context": dict(self.context), "history": [list(r) for r in self.records()],
            "deadlines": [list(d) for d in self.deadlines], "memory": self.memory,
            "version": self.version, "outcome": self.outcome,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JourneyInstance):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"JourneyInstance({self.id!r}, {self.journey_id!r} v{self.journey_version}, "
                f"state={self.state!r}, version={self.version}, outcome={self.outcome!r})")


class SendResult:
    """What one event did: the new state, the actions run and the events emitted.

    ``moved`` is False when the trigger was accepted but no guard held (nothing changed).
    """

    __slots__ = ("_following", "_state", "_trigger", "instance_id", "transition")

    def __init__(self, instance_id: str, transition: FlatTransition | None,
                 trigger: str = "", state: str = "",
                 following: tuple[FlatTransition, ...] = ()) -> None:
        self.instance_id = instance_id
        self.transition = transition
        self._trigger = trigger
        self._state = state
        if following:
            self._following = following

    @property
    def following(self) -> tuple[FlatTransition, ...]:
        """The eventless and completion steps the runtime took after ``transition`` (the
        rest of the SCXML macrostep), in order (the hot path leaves the slot unset)."""
        return getattr(self, "_following", ())

    @property
    def moved(self) -> bool:
        """True when a transition was taken."""
        return self.transition is not None

    @property
    def trigger(self) -> str:
        """The trigger sent."""
        return self.transition.trigger if self.transition is not None else self._trigger

    @property
    def previous(self) -> str:
        """The state before the event."""
        return self.transition.source if self.transition is not None else self._state

    @property
    def state(self) -> str:
        """The state after the event (and the rest of its macrostep)."""
        if self.following:
            return self.following[-1].target
        return self.transition.target if self.transition is not None else self._state

    @property
    def actions(self) -> tuple[str, ...]:
        """Names of the host actions run, in order."""
        if self.transition is None:
            return ()
        if self.following:
            return self.transition.actions + tuple(
                a for t in self.following for a in t.actions)
        return self.transition.actions

    @property
    def emitted(self) -> tuple[str, ...]:
        """Names of the events the transition emits."""
        if self.transition is None:
            return ()
        if self.following:
            return self.transition.emit + tuple(e for t in self.following for e in t.emit)
        return self.transition.emit

    @property
    def outcome(self) -> str | None:
        """The outcome when the instance reached a final state."""
        if self.following:
            return self.following[-1].outcome
        return self.transition.outcome if self.transition is not None else None

    def __repr__(self) -> str:
        return (f"SendResult({self.instance_id!r}, {self.trigger!r}: {self.previous!r} -> "
                f"{self.state!r}, actions={self.actions}, emitted={self.emitted}, "
                f"outcome={self.outcome!r}, moved={self.moved})")


class ManualClock:
    """A clock that only moves when told to (for tests): call it for the time."""

    __slots__ = ("now",)

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds``; return the new time."""
        self.now += seconds
        return self.now


def system_clock() -> float:
    """The wall clock (POSIX seconds)."""
    return time.time()
