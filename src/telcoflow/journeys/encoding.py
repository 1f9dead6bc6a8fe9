"""How a journey instance is stored as rows: the one encoding of every SQL backend.

A row holds the context and the memory as JSON (decimals, dates and date-times tagged:
``{"$decimal": "1.50"}``), the deadlines as ``due state`` lines, and each transition
record as its own row. The SQLite and PostgreSQL journey stores both write and read
through these functions, so a file and a database hold the very same text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from telcoflow.journeys.instance import JourneyInstance

__all__ = [
    "dump_deadlines",
    "dumps",
    "instance_from_row",
    "instance_records",
    "instance_row",
    "load_deadlines",
    "loads",
]


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot store {type(value).__name__} {value!r} in a journey context")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$decimal" in obj:
            return Decimal(obj["$decimal"])
        if "$datetime" in obj:
            return datetime.fromisoformat(obj["$datetime"])
        if "$date" in obj:
            return date.fromisoformat(obj["$date"])
    return obj


_ENCODER = json.JSONEncoder(default=_encode, separators=(",", ":"))
# The C encoder, made once: ``JSONEncoder.encode`` builds a new one on every call, which is
# most of the cost of encoding a small context. No ``markers`` dict (it would be shared
# between threads): a circular context ends in RecursionError, reported as a ValueError.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode: Callable[[Any, int], Sequence[str]] | None = (
    _c_make_encoder(None, _encode, json.encoder.encode_basestring_ascii, None, ":", ",",
                    False, False, True) if _c_make_encoder is not None else None)


def dumps(value: Any) -> str:
    """A journey context (or memory) as compact JSON text, decimals and dates tagged."""
    if _c_encode is None:  # pragma: no cover - Python without the _json accelerator
        return _ENCODER.encode(value)
    try:
        return "".join(_c_encode(value, 0))
    except RecursionError as exc:
        raise ValueError("a journey context must not contain itself") from exc


def loads(text: str) -> Any:
    """Read what :func:`dumps` wrote."""
    return json.loads(text, object_hook=_decode)


def dump_deadlines(deadlines: tuple[tuple[float, str], ...]) -> str:
    """``due state`` pairs, one per line (``repr`` keeps every bit of the float)."""
    if len(deadlines) == 1:  # the usual case: no generator, no join
        due, state = deadlines[0]
        return f"{due!r} {state}"
    return "\n".join(f"{due!r} {state}" for due, state in deadlines)


def load_deadlines(text: str) -> tuple[tuple[float, str], ...]:
    """Read what :func:`dump_deadlines` wrote."""
    out = []
    for line in text.splitlines():
        due, _, state = line.partition(" ")
        out.append((float(due), sys.intern(state)))
    return tuple(out)




def instance_row(inst: JourneyInstance) -> tuple[Any, ...]:
    """``(context, deadlines, next_due, memory, outcome, state, version)`` of an instance,
    as a store writes them (context and memory as JSON text, deadlines as lines)."""
    return (dumps(inst.context), dump_deadlines(inst.deadlines), inst.next_deadline,
            dumps(inst.memory) if inst.memory else None, inst.outcome, inst.state,
            inst.version)


def instance_records(inst: JourneyInstance, first: int) -> list[tuple[Any, ...]]:
    """The transition records of ``inst`` from number ``first`` on, as
    ``(instance_id, seq, at, trigger, state, channel)`` rows."""
    h = inst.history
    return [(inst.id, i // 4, h[i], h[i + 1], h[i + 2], h[i + 3])
            for i in range(first * 4, len(h), 4)]


def instance_from_row(row: Sequence[Any], records: Sequence[Sequence[Any]]) -> JourneyInstance:
    """An instance from its row ``(id, journey_id, journey_version, state, context,
    deadlines, memory, outcome, version)`` and its records ``(at, trigger, state, channel)``."""
    intern = sys.intern
    history: list[Any] = []
    for at, trigger, state, channel in records:
        history += (at, intern(trigger), intern(state), intern(channel))
    memory = loads(row[6]) if row[6] else None
    return JourneyInstance(row[0], row[1], row[2], intern(row[3]), loads(row[4]), history,
                           load_deadlines(row[5]), memory, row[8], row[7])
