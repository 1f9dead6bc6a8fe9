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
    "ArgumentError",
    "BackpressureError",
    "BillDocumentError",
    "BusError",
    "BusResetError",
    "BusUnavailableError",
    "ClaimConflictError",
    "ClosedError",
    "ConcurrencyError",
    "CurrencyMismatchError",
    "DecisionError",
    "DefinitionError",
    "DmnError",
    "EvaluationError",
    "EventRejectedError",
    "ExpressionError",
    "GraphError",
    "JourneyError",
    "MissingDependencyError",
    "MoneyError",
    "NotFoundError",
    "PackCaseFailedError",
    "PathKey",
    "Problem",
    "RatingError",
    "RuleError",
    "RunInterruptedError",
    "StatefulError",
    "StoreError",
    "StudioError",
    "TelcoflowError",
    "TelcoflowRuntimeError",
]


#: A path into a document or a context: mapping keys and sequence indexes, from the root
#: (``("offerings", 2, "prices", 0, "amount")`` is ``$.offerings[2].prices[0].amount``).
PathKey = tuple[str | int, ...]


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


class ArgumentError(TelcoflowError, ValueError):
    """A public function or constructor was handed an argument it cannot use; the message
    names the argument and what was expected. Also a :class:`ValueError`, so callers that
    catch ``ValueError`` keep working."""


class MissingDependencyError(TelcoflowError, ImportError):
    """An optional package a feature needs is not installed; the message names the
    ``telcoflow[extra]`` that brings it (``pip install 'telcoflow[redis]'``).

    Also an :class:`ImportError`, so code that probes for an optional feature with
    ``except ImportError`` keeps working.
    """

    def __init__(self, message: str, *, extra: str, module: str) -> None:
        super().__init__(message, name=module)
        self.extra = extra
        self.module = module


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


class DmnError(RuleError):
    """A DMN document cannot be imported (or a pack exported) faithfully: every element that
    cannot be carried over is listed with its line."""


class GraphError(DefinitionError):
    """A process graph is malformed (cycle, missing input, two providers)."""


class JourneyError(DefinitionError):
    """A journey definition is malformed."""


class TelcoflowRuntimeError(TelcoflowError):
    """Processing failed for one input (event, amount, instance)."""


class NotFoundError(TelcoflowRuntimeError, KeyError):
    """An id names nothing (an offering, tariff, discount of the catalog; an offering version
    valid on a day). Also a :class:`KeyError`; its text is the plain message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


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


class ClosedError(TelcoflowRuntimeError):
    """An asyncio façade (:mod:`telcoflow.aio`) was called after it was closed."""


class StoreError(TelcoflowRuntimeError):
    """A storage backend failed."""


class RunInterruptedError(TelcoflowRuntimeError):
    """A long run (a bill run) was stopped by a signal; ``signal`` is its number. What it
    finished is stored, and a rerun resumes."""

    def __init__(self, message: str, *, signal: int) -> None:
        self.signal = signal
        super().__init__(message)


class BusError(StoreError):
    """The bus failed (its server is unreachable, a command was refused...)."""


class BusUnavailableError(BusError):
    """The bus server cannot be reached right now; retry later."""


class BackpressureError(BusError):
    """Consumers are too far behind: a partition stayed full for the whole timeout."""


class BusResetError(BusError):
    """The bus lost its messages (e.g. Redis restarted without persistence).

    Nothing of the failed :meth:`Bus.publish` call was published. The producer re-publishes
    every message not yet durably processed, then calls :meth:`Bus.reset` to go on.
    """


class ClaimConflictError(ConcurrencyError):
    """Event ids of a batch were claimed by another writer first (``event_ids``)."""

    def __init__(self, ids: list[str]) -> None:
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        super().__init__(f"event(s) {shown} were claimed by another writer while this batch "
                         "ran; the batch was rolled back (process it again: they are now "
                         "duplicates)")
        self.event_ids = ids


class BillDocumentError(TelcoflowRuntimeError):
    """A bill document could not be rendered or does not validate."""


class StatefulError(TelcoflowRuntimeError):
    """A stateful rule could not process an event (bad key/time/value, backend failure)."""


class DecisionError(TelcoflowRuntimeError):
    """A decision could not be taken (two rules matched under `unique`, outputs disagree
    under `any`, an output expression failed)."""


class EvaluationError(TelcoflowRuntimeError):
    """An expression failed at run time (missing path, wrong type, division by zero).

    ``source`` is the expression text, ``path`` the dotted path involved (if any) and
    ``where`` the ``file:line:col`` of the expression when it came from a file.
    """

    def __init__(self, message: str, *, source: str, path: str | None = None,
                 where: str | None = None) -> None:
        self.source = source
        self.path = path
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{message} in expression `{source}`")


class PackCaseFailedError(TelcoflowRuntimeError):
    """A pack test case failed; carries its readable differences."""


class StudioError(TelcoflowRuntimeError):
    """A request to the journey studio cannot be served (no such file or simulation, a file
    that does not parse, a bad path test name); the page shows the message."""
