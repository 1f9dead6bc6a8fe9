"""The values decisions give back: :class:`Result` (a read-only ``dict``, so ``json.dumps``
and ``dict(...)`` take it as it is) and :class:`Violation` (DMN's error value for a unique or
any table whose hit policy was violated, naming the rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

__all__ = ["Result", "Violation"]


class Result(dict[str, Any]):
    """The outputs of one rule or table row: a ``dict`` that refuses changes.

    It *is* a ``dict`` (``isinstance(r, dict)``, ``json.dumps(r)``, ``r == {...}`` all work);
    one instance is shared by every evaluation that matches the same row, so it may not be
    changed: ``dict(r)`` is a copy to change.
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a decision's result is read-only; dict(result) is a copy to change")

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __reduce__(self) -> tuple[type[Result], tuple[dict[str, Any]]]:
        return (Result, (dict(self),))

    def __copy__(self) -> Result:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Result:
        return self

    def __repr__(self) -> str:
        return f"Result({dict.__repr__(self)})"


@dataclass(frozen=True, slots=True)
class Violation:
    """DMN's result when a ``U`` (unique) table has more than one match or the matches of an
    ``A`` (any) table disagree: an error value, not a decision. ``rules`` names the matches.

    Set ``on_violation: raise`` on the decision to raise
    :class:`~telcoflow.errors.DecisionError` instead.
    """

    decision: str
    hit: str
    rules: tuple[str, ...]
    message: str

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"error": message, "decision": ..., "hit": ..., "rules": [...]}``."""
        return {"error": self.message, "decision": self.decision, "hit": self.hit,
                "rules": list(self.rules)}

