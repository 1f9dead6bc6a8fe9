"""Named actions: code the host registers, referenced by name from journey YAML.

A journey file never carries code; it lists action *names*. The host registers a callable
under each name, with the :meth:`ActionRegistry.action` decorator or through the entry-point
group ``telcoflow.journeys.actions`` (the entry point's name is the action name)::

    actions = ActionRegistry()

    @actions.action("reserve_number")
    def reserve_number(*, context, payload, instance_id, channel, trigger, **future_kwargs):
        return {"reserved": payload["msisdn"]}   # context updates, or None

An action receives keyword arguments only (more may be added later, hence ``**future_kwargs``)
and returns ``None`` or a mapping of context updates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol

from telcoflow.errors import JourneyError, Problem

__all__ = ["ENTRY_POINT_GROUP", "Action", "ActionRegistry"]

ENTRY_POINT_GROUP = "telcoflow.journeys.actions"


class Action(Protocol):
    """A host action: keyword arguments in, context updates (or ``None``) out."""

    def __call__(self, *, context: Mapping[str, Any], payload: Mapping[str, Any],
                 instance_id: str, channel: str, trigger: str,
                 **future_kwargs: Any) -> Mapping[str, Any] | None: ...


class ActionRegistry:
    """Action name -> callable. No global state: create one per application."""

    __slots__ = ("_actions",)

    def __init__(self, actions: Mapping[str, Action] | None = None) -> None:
        self._actions: dict[str, Action] = {}
        for name, fn in (actions or {}).items():
            self.add(name, fn)

    def add(self, name: str, fn: Action) -> None:
        """Register ``fn`` under ``name``; a name may be registered once."""
        if not callable(fn):
            raise JourneyError([Problem(f"action `{name}` must be callable (got {fn!r})",
                                        "E-journey-action")])
        if name in self._actions and self._actions[name] is not fn:
            raise JourneyError([Problem(f"action `{name}` is already registered",
                                        "E-journey-action-duplicate")])
        self._actions[name] = fn

    def action(self, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering a function (under its own name unless ``name`` is given)."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add(name or fn.__name__, fn)
            return fn

        return register

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> int:
        """Register every action of the entry-point ``group``; return how many were added."""
        count = 0
        for ep in entry_points(group=group):
            self.add(ep.name, ep.load())
            count += 1
        return count

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> ActionRegistry:
        """A registry filled from the entry-point group."""
        registry = cls()
        registry.load_entry_points(group)
        return registry

    def get(self, name: str) -> Action | None:
        """The action registered under ``name``, if any."""
        return self._actions.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._actions))

    def __len__(self) -> int:
        return len(self._actions)
