"""The runtime of rule packs: a loaded, compiled :class:`RulePack` (immutable; evaluate it
from any number of threads), its stateful rules and its test cases.

Packs are built by :mod:`telcoflow.rules.loader`; table cells are compiled by
:mod:`telcoflow.rules.cells`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telcoflow.errors import NotFoundError
from telcoflow.rules.engine import CompiledDecision, Outputs
from telcoflow.rules.expressions import CompiledExpression
from telcoflow.rules.model import TestCaseModel
from telcoflow.rules.trace import Trace

__all__ = ["PackTest", "RulePack", "StatefulRule"]


@dataclass(frozen=True)
class StatefulRule:
    """A stateful rule compiled from the pack, independent of the backend that runs it.

    ``pattern`` is ``count``, ``sequence`` or ``total``; ``steps`` are the conditions of
    successive events (``count``: N copies of ``match``; ``total``: one, ``match``).
    """

    id: str
    pattern: str
    key: CompiledExpression
    time: CompiledExpression
    steps: tuple[CompiledExpression, ...]
    window: timedelta | None
    then: Outputs
    total: CompiledExpression | None = None
    reach: CompiledExpression | None = None


@dataclass(frozen=True)
class PackTest:
    """One test case of a pack with where it is written."""

    case: TestCaseModel
    file: str
    line: int | None

    @property
    def name(self) -> str:
        """The test case name."""
        return self.case.name


class RulePack:
    """A loaded, compiled rule pack. Immutable; evaluate it from any number of threads."""

    def __init__(self, *, name: str, version: str, digest: str, file: str, description: str,
                 lets: Sequence[tuple[str, CompiledExpression]],
                 decisions: Sequence[CompiledDecision], stateful: Sequence[StatefulRule],
                 tests: Sequence[PackTest]) -> None:
        self.name = name
        self.version = version
        self.digest = digest
        self.file = file
        self.description = description
        self.lets = tuple(lets)
        self._lets = tuple((n, e.fn) for n, e in lets)
        self.decisions = tuple(decisions)
        self._decisions = tuple((d.name, d.fast) for d in decisions)
        self.stateful = tuple(stateful)
        self.tests = tuple(tests)

    def __repr__(self) -> str:
        return (f"RulePack({self.name!r}, version={self.version!r}, "
                f"decisions={[d.name for d in self.decisions]})")

    def decision(self, name: str) -> CompiledDecision:
        """The compiled decision ``name`` (KeyError naming the known ones otherwise)."""
        for d in self.decisions:
            if d.name == name:
                return d
        known = ", ".join(d.name for d in self.decisions)
        raise NotFoundError(f"pack {self.name!r} has no decision {name!r} (has: {known})")

    def context_for(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``context`` with the pack's computed ``let`` values added."""
        ctx = dict(context)
        for name, fn in self._lets:
            ctx[name] = fn(ctx)
        return ctx

    def decide(self, name: str, context: Mapping[str, Any]) -> Any:
        """Evaluate the ``let`` values and the one decision ``name``; return its value.

        Decisions it reads by name must be in ``context`` already (or use
        :meth:`evaluate`).
        """
        return self.decision(name).evaluate(self.context_for(context))

    def evaluate(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """Evaluate every decision in order; return decision name -> value.

        Each decision's value is also visible to later decisions under its name.
        """
        ctx = dict(context)
        for name, fn in self._lets:
            ctx[name] = fn(ctx)
        out: dict[str, Any] = {}
        for name, decide in self._decisions:
            out[name] = ctx[name] = decide(ctx)
        return out

    def explain(self, context: Mapping[str, Any]) -> Trace:
        """Evaluate with a full :class:`~telcoflow.rules.trace.Trace`."""
        ctx = dict(context)
        lets: dict[str, Any] = {}
        for name, fn in self._lets:
            lets[name] = ctx[name] = fn(ctx)
        traces = []
        for d in self.decisions:
            t = d.explain(ctx)
            ctx[d.name] = t.value
            traces.append(t)
        return Trace(self.name, self.version, self.digest, lets, tuple(traces))
