"""The whole exception tree of telcoflow.

Every error telcoflow raises derives from :class:`TelcoflowError`. Two branches
separate *definition* errors (a catalog, rule pack or journey file is wrong; they
carry every :class:`Problem` found, each located by file, line, column and JSON
path) from *runtime* errors (this event, this amount, this instance cannot be
processed). This module imports nothing else of telcoflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ConcurrencyError",
    "CurrencyMismatchError",
    "DefinitionError",
    "EventRejectedError",
    "ExpressionError",
    "GraphError",
    "JourneyError",
    "MoneyError",
    "Problem",
    "RatingError",
    "RuleError",
    "RunInterruptedError",
    "StoreError",
    "TelcoflowError",
    "TelcoflowRuntimeError",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem in a definition (YAML file, expression, graph).

    ``path`` is a JSON path such as ``$.offerings[2].prices[0].amount``.
    ``code`` is a short stable identifier such as ``E-yaml-duplicate-key``.
    """

    message: str
    code: str = "E-invalid"
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None

    def location(self) -> str:
        """Return ``file:line:col`` (the parts that are known)."""
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        if self.path:
            where += f" ({self.path})"
        return f"{where}: {self.message} [{self.code}]"


class TelcoflowError(Exception):
    """Root of every error telcoflow raises."""


class DefinitionError(TelcoflowError):
    """A definition (catalog, rule pack, journey, graph) is invalid.

    Holds *every* problem found, not only the first.
    """

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: Sequence[Problem] = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class ExpressionError(DefinitionError):
    """A rule expression does not parse or uses something not allowed."""


class RuleError(DefinitionError):
    """A rule, decision table or rule pack is malformed."""


class GraphError(DefinitionError):
    """A process graph is malformed (cycle, missing input, two providers)."""


class JourneyError(DefinitionError):
    """A journey definition is malformed."""


class TelcoflowRuntimeError(TelcoflowError):
    """Processing failed for one input (event, amount, instance)."""


class MoneyError(TelcoflowRuntimeError):
    """An amount is not acceptable (float given, bad currency, bad precision)."""


class CurrencyMismatchError(MoneyError):
    """Two amounts of different currencies were combined."""


class RatingError(TelcoflowRuntimeError):
    """An event could not be rated."""


class EventRejectedError(TelcoflowRuntimeError):
    """An event was rejected; ``reason`` is a short stable code."""

    def __init__(self, message: str, *, reason: str, event_id: str | None = None) -> None:
        self.reason = reason
        self.event_id = event_id
        super().__init__(message)


class ConcurrencyError(TelcoflowRuntimeError):
    """An optimistic-concurrency check failed (someone else moved the object)."""


class StoreError(TelcoflowRuntimeError):
    """A storage backend failed."""


class RunInterruptedError(TelcoflowRuntimeError):
    """A long run (a bill run) was stopped by a signal; ``signal`` is its number. What it
    finished is stored, and a rerun resumes."""

    def __init__(self, message: str, *, signal: int) -> None:
        self.signal = signal
        super().__init__(message)
