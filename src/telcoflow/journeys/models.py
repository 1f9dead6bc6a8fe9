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

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TransitionSpec(_Model):
    """One transition: where to go, under which guard, doing which actions."""

    target: str = Field(description="Target state path, e.g. `checkout.payment.pending`.")
    guard: Name | None = Field(None, description="Name of a guard from `guards`.")
    actions: tuple[Name, ...] = Field((), description="Names of host actions to run, in order.")
    emit: tuple[Name, ...] = Field((), description="Names of events this transition emits.")
    increment: tuple[Name, ...] = Field((), description="Context counters to add 1 to.")
    resume: bool = Field(
        False, description="Return to the last configuration of the target (history state).")


def _transition(value: Any) -> Any:
    return {"target": value} if isinstance(value, str) else value


Transition = Annotated[TransitionSpec, BeforeValidator(_transition)]


def _transitions(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


Transitions = Annotated[tuple[Transition, ...], BeforeValidator(_transitions)]


class TimeoutSpec(TransitionSpec):
    """A durable deadline: after ``after`` in the state, take this transition."""

    after: Duration = Field(description="How long the state may last: 90, '30s', '15m', '2h'.")


class StateSpec(_Model):
    """A state: a leaf, a compound state (``states``) or a parallel state (``parallel: true``)."""

    initial: bool = Field(False, description="The initial child of its parent.")
    description: str | None = None
    outcome: Literal["completed", "abandoned", "rejected"] | None = Field(
        None, description="Makes a top-level state final with this outcome.")
    final: bool = Field(False, description="Final state of a parallel region.")
    parallel: bool = Field(False, description="Children are regions that run side by side.")
    history: bool = Field(
        False, description="Remember the configuration inside when left (for `resume: true`).")
    states: dict[str, StateSpec] = Field(default_factory=dict)
    on: dict[str, Transitions] = Field(
        default_factory=dict, description="Trigger -> transition(s), tried in order.")
    on_done: Transition | None = Field(
        None, description="Parallel state: where to go when every region reached its final state.")
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
    triggers: dict[Name, Annotated[TriggerSpec, BeforeValidator(_trigger)]] = Field(
        default_factory=dict)
    guards: dict[Name, str] = Field(
        default_factory=dict, description="Guard name -> rule expression.")
    actions: tuple[Name, ...] = Field(
        (), description="Names of the host actions this journey uses (registered in code).")
    states: dict[str, StateSpec]
    migrations: tuple[MigrationSpec, ...] = ()

    @field_validator("states")
    @classmethod
    def _state_names(cls, value: dict[str, StateSpec]) -> dict[str, StateSpec]:
        bad = [name for name in value if not re.match(_NAME, name)]
        if bad:
            raise ValueError(f"state names must be identifiers (found {bad})")
        return value
