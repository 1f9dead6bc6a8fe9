"""Pydantic models of a journey file (``kind: journey``): the YAML as written, not yet checked.

These models describe the *shape* of a journey file and give editors a JSON Schema
(``JourneyFile.model_json_schema()``). Cross-references (targets, triggers, guards, actions)
and the graph checks live in :mod:`telcoflow.journeys.definition`.

A journey file looks like::

    kind: journey
    id: top-up
    version: 1
    context: {attempts: 0}
    triggers:
      choose_amount: {payload: [amount]}
      pay: {}
    guards:
      can_retry: "attempts < 3"
    actions: [charge_card]
    states:
      choosing: {initial: true, on: {choose_amount: paying}}
      paying:
        timeout: {after: 15m, target: abandoned}
        on:
          pay: {target: done, actions: [charge_card]}
      done: {outcome: completed}
      abandoned: {outcome: abandoned}
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CHANNELS",
    "OUTCOMES",
    "JourneyFile",
    "MigrationSpec",
    "StateSpec",
    "TimeoutSpec",
    "TransitionSpec",
    "TriggerSpec",
    "parse_duration",
]

#: Channels an event may come from unless a journey lists its own.
CHANNELS: tuple[str, ...] = ("app", "web", "store", "call_centre")
#: Outcomes a top-level final state may carry.
OUTCOMES: tuple[str, ...] = ("completed", "abandoned", "rejected")

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds from ``90`` (seconds), ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"`` or ``"500ms"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as '15m' (found {value!r})")
    if isinstance(value, int):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError(
            f"expected a duration such as 90, '30s', '15m', '2h' or '1d' (found {value!r})")
    if seconds <= 0:
        raise ValueError(f"a duration must be > 0 (found {value!r})")
    return seconds


def _duration(value: object) -> float:
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(_duration)]
Name = Annotated[str, Field(pattern=_NAME)]
EventName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TransitionSpec(_Model):
    """One transition: where to go, under which guard, doing which actions.

    ``target`` (one state) or ``targets`` (several, e.g. one per region of a parallel
    state); neither makes a *targetless* transition (it runs its actions and changes no
    state). ``type: internal`` does not exit a compound source when every target is inside it.
    """

    target: str | None = Field(None, description="Target state path, e.g. `checkout.payment`.")
    targets: tuple[str, ...] = Field(
        (), description="Several target states entered at once (one per parallel region).")
    type: Literal["external", "internal"] = Field(
        "external", description="`internal`: a compound source is not exited when every "
        "target is one of its descendants.")
    guard: Name | None = Field(None, description="Name of a guard from `guards`.")
    actions: tuple[Name, ...] = Field((), description="Names of host actions to run, in order.")
    emit: tuple[Name, ...] = Field((), description="Names of events this transition emits.")
    increment: tuple[Name, ...] = Field((), description="Context counters to add 1 to.")
    resume: bool = Field(
        False, description="Enter the history of each target that keeps one (`history`).")

    @model_validator(mode="after")
    def _one_target_form(self) -> TransitionSpec:
        if self.target is not None and self.targets:
            raise ValueError("give `target` or `targets`, not both")
        return self

    @property
    def all_targets(self) -> tuple[str, ...]:
        """The targets as written (``target`` or ``targets``; empty: targetless)."""
        return (self.target,) if self.target is not None else self.targets


def _transition(value: Any) -> Any:
    return {"target": value} if isinstance(value, str) else value


Transition = Annotated[TransitionSpec, BeforeValidator(_transition)]


def _transitions(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


Transitions = Annotated[tuple[Transition, ...], BeforeValidator(_transitions)]


class TimeoutSpec(TransitionSpec):
    """A durable deadline: after ``after`` in the state, take this transition."""

    after: Duration = Field(description="How long the state may last: 90, '30s', '15m', '2h'.")


def _history(value: Any) -> Any:
    return "deep" if value is True else (None if value is False else value)


class StateSpec(_Model):
    """A state: a leaf, a compound state (``states``) or a parallel state (``parallel: true``)."""

    initial: bool = Field(False, description="The initial child of its parent.")
    description: str | None = None
    outcome: Literal["completed", "abandoned", "rejected"] | None = Field(
        None, description="Makes a top-level state final with this outcome.")
    final: bool = Field(False, description="A final state (top level: the journey ends).")
    parallel: bool = Field(False, description="Children are regions that run side by side.")
    history: Annotated[Literal["shallow", "deep"] | None, BeforeValidator(_history)] = Field(
        None, description="Remember the state inside when left, for `resume: true`: "
        "`shallow` (the active child) or `deep` (every active leaf); `true` means deep.")
    history_default: Transition | None = Field(
        None, description="Where `resume` goes when there is nothing remembered yet "
        "(default: the initial child).")
    states: dict[str, StateSpec] = Field(default_factory=dict)
    on: dict[str, Transitions] = Field(
        default_factory=dict, description="Event descriptor -> transition(s), tried in order. "
        "A descriptor matches its event and every event it is a dotted prefix of; `*` "
        "matches every event; several descriptors may be written separated by spaces.")
    always: Transitions = Field(
        (), description="Eventless transitions: taken as soon as their guard holds.")
    on_done: Transition | None = Field(
        None, description="Compound or parallel state: where to go when it completes "
        "(its `done.state.<path>` event).")
    timeout: TimeoutSpec | None = None

    @field_validator("states")
    @classmethod
    def _state_names(cls, value: dict[str, StateSpec]) -> dict[str, StateSpec]:
        bad = [name for name in value if not re.match(_NAME, name)]
        if bad:
            raise ValueError(f"state names must be identifiers (found {bad})")
        return value


class TriggerSpec(_Model):
    """A trigger (an event the journey reacts to) and the payload fields it may carry."""

    description: str | None = None
    payload: tuple[Name, ...] = Field(
        (), description="Payload fields; they are copied into the context when it fires.")


def _trigger(value: Any) -> Any:
    return {} if value is None else value


class MigrationSpec(_Model):
    """How instances of an older version move to this version: old leaf state -> new one."""

    from_version: int = Field(ge=1)
    states: dict[str, str] = Field(
        default_factory=dict, description="Old leaf state path -> new leaf state path.")


class JourneyFile(_Model):
    """A journey definition file (``kind: journey``)."""

    kind: Literal["journey"]
    id: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    version: int = Field(1, ge=1)
    title: str | None = None
    description: str | None = None
    channels: tuple[Name, ...] = CHANNELS
    context: dict[Name, Any] = Field(
        default_factory=dict, description="Initial context of every instance.")
    triggers: dict[EventName, Annotated[TriggerSpec, BeforeValidator(_trigger)]] = Field(
        default_factory=dict, description="Events the journey reacts to; dotted names "
        "(`payment.failed`) can be matched by prefix (`payment`).")
    guards: dict[Name, str] = Field(
        default_factory=dict, description="Guard name -> rule expression.")
    actions: tuple[Name, ...] = Field(
        (), description="Names of the host actions this journey uses (registered in code).")
    states: dict[str, StateSpec]
    migrations: tuple[MigrationSpec, ...] = ()
    lint: dict[str, Literal["error", "warning", "off"]] = Field(
        default_factory=dict, description="Level of each business check (`unreachable`, "
        "`trap`, `no-final`, `finishes`, `on-done`; `*`: all): error, warning or off.")

    @field_validator("states")
    @classmethod
    def _state_names(cls, value: dict[str, StateSpec]) -> dict[str, StateSpec]:
        bad = [name for name in value if not re.match(_NAME, name)]
        if bad:
            raise ValueError(f"state names must be identifiers (found {bad})")
        return value
