"""Built-in functions of the expression language: numbers, text, time bands, calendars.

Every function here is pure and total over the types it documents; a wrong type raises
``TypeError``/``ValueError``, which the expression runtime turns into an
:class:`~telcoflow.rules.expressions.EvaluationError` naming the expression.

Timestamps may be :class:`~datetime.datetime` objects or ISO 8601 strings
(``2026-11-27T14:30:00+01:00``); the helpers use the timestamp's own wall-clock time
(the time zone of the event), never the machine's.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any

from telcoflow.money import to_decimal
from telcoflow.rules.cells import CELL_FUNCTIONS

__all__ = ["BUILTIN_FUNCTIONS", "parse_band", "to_datetime"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def to_datetime(value: object) -> datetime:
    """A :class:`datetime` from a datetime, a date (midnight) or an ISO 8601 string."""
    if type(value) is str:
        return _parse_iso(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return _parse_iso(value)
    raise TypeError(f"expected a timestamp (datetime or ISO 8601 text), got {value!r}")


@lru_cache(maxsize=4096)
def _parse_iso(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected an ISO 8601 timestamp, got {text!r}") from None


def _to_date(value: object) -> date:
    if type(value) is str:
        return _parse_iso(value).date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return to_datetime(value).date()


def _to_time(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and len(value) <= 8 and ":" in value and "T" not in value:
        return _parse_clock(value)
    return to_datetime(value).time()


@lru_cache(maxsize=1024)
def _parse_clock(text: str) -> time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
    if not m:
        raise ValueError(f"expected a time of day HH:MM, got {text!r}")
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    if h == 24 and mi == 0 and s == 0:
        return time.max
    return time(h, mi, s)


def _in_window(t: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= t < end or (end == time.max and t == time.max)
    return t >= start or t < end  # wraps midnight: 22:00-06:00


def between(value: Any, low: Any, high: Any) -> bool:
    """``low <= value <= high`` (both ends included)."""
    return bool(low <= value <= high)


def time_in(ts: object, start: str, end: str) -> bool:
    """Whether the time of day of ``ts`` is in ``[start, end)``; ``22:00``-``06:00`` wraps."""
    return _in_window(_to_time(ts), _parse_clock(start), _parse_clock(end))


_Band = tuple[tuple[frozenset[int], time, time], ...]


@lru_cache(maxsize=256)
def parse_band(spec: str) -> _Band:
    """Parse a time-band spec: ``"mon-fri 08:00-20:00; sat,sun 10:00-14:00"``.

    Each ``;``-separated window has optional days (``mon-fri``, ``sat,sun``, ``daily``)
    and an optional clock range (``08:00-20:00``, wrapping midnight when the end is
    earlier than the start). Raises ``ValueError`` on a malformed spec.
    """
    windows = []
    for raw in spec.split(";"):
        part = raw.strip().lower()
        if not part:
            continue
        days: set[int] = set()
        start, end = time.min, time.max
        for token in part.split():
            if re.fullmatch(r"\d{1,2}:\d{2}-\d{1,2}:\d{2}", token):
                a, b = token.split("-")
                start, end = _parse_clock(a), _parse_clock(b)
            elif token in ("daily", "all", "every-day"):
                days.update(range(7))
            else:
                for item in token.split(","):
                    if "-" in item:
                        a, b = item.split("-", 1)
                        i, j = _day_index(a, spec), _day_index(b, spec)
                        k = i
                        while True:
                            days.add(k)
                            if k == j:
                                break
                            k = (k + 1) % 7
                    elif item:
                        days.add(_day_index(item, spec))
        windows.append((frozenset(days or range(7)), start, end))
    if not windows:
        raise ValueError(f"empty time band {spec!r}")
    return tuple(windows)


def _day_index(name: str, spec: str) -> int:
    key = name[:3]
    if key not in _DAYS or (len(name) > 3 and not _full_day(name)):
        raise ValueError(f"unknown day {name!r} in time band {spec!r} (expected mon..sun)")
    return _DAYS.index(key)


def _full_day(name: str) -> bool:
    return name in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def in_band(ts: object, spec: str) -> bool:
    """Whether ``ts`` falls in the time band ``spec`` (see :func:`parse_band`).

    A window that wraps midnight (``fri 22:00-06:00``) belongs to the day it starts on.
    """
    dt = to_datetime(ts)
    t = dt.time()  # naive wall-clock time of the event
    wd = dt.weekday()
    for days, start, end in parse_band(spec):
        if start <= end:
            if wd in days and _in_window(t, start, end):
                return True
        elif (wd in days and t >= start) or ((wd - 1) % 7 in days and t < end):
            return True
    return False


def hour(ts: object) -> int:
    """Hour of day (0-23) of ``ts``."""
    return to_datetime(ts).hour


def weekday(ts: object) -> str:
    """Day of week of ``ts``: ``"mon"`` .. ``"sun"``."""
    return _DAYS[_to_date(ts).weekday()]


def is_weekend(ts: object) -> bool:
    """Whether ``ts`` is a Saturday or Sunday."""
    return _to_date(ts).weekday() >= 5


def date_of(ts: object) -> str:
    """The calendar date of ``ts`` as ISO text, ``"2026-11-27"``."""
    return _to_date(ts).isoformat()


def month(ts: object) -> int:
    """Month (1-12) of ``ts``."""
    return _to_date(ts).month


def day(ts: object) -> int:
    """Day of month (1-31) of ``ts``."""
    return _to_date(ts).day


def is_holiday(ts: object, holidays: Iterable[object]) -> bool:
    """Whether the date of ``ts`` is one of ``holidays`` (dates or ISO date texts)."""
    d = _to_date(ts)
    return any(_to_date(h) == d for h in holidays)


def days_between(a: object, b: object) -> int:
    """Whole calendar days from ``a`` to ``b`` (negative when ``b`` is earlier)."""
    return (_to_date(b) - _to_date(a)).days


def minutes_between(a: object, b: object) -> Decimal:
    """Minutes from ``a`` to ``b`` as a Decimal."""
    delta = to_datetime(b) - to_datetime(a)
    seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6
    return seconds / 60


def dec(value: object) -> Decimal:
    """Convert to Decimal exactly (text or int; floats are refused)."""
    return to_decimal(value, field="value")


def percent(part: object, whole: object) -> Decimal:
    """``part`` as a percentage of ``whole`` (Decimal)."""
    w = to_decimal(whole, field="whole")
    if w == 0:
        raise ZeroDivisionError("percent of a zero whole")
    return to_decimal(part, field="part") * 100 / w


def round_to(value: object, places: int = 0, mode: str = "half-even") -> Decimal:
    """Round ``value`` to ``places`` decimals; ``mode`` is half-even, half-up, up or down."""
    modes = {"half-even": decimal.ROUND_HALF_EVEN, "half-up": decimal.ROUND_HALF_UP,
             "up": decimal.ROUND_UP, "down": decimal.ROUND_DOWN}
    if mode not in modes:
        raise ValueError(f"rounding mode must be one of {sorted(modes)}, got {mode!r}")
    exact = to_decimal(value, field="value")
    return exact.quantize(Decimal(1).scaleb(-places), rounding=modes[mode])


def coalesce(*values: Any) -> Any:
    """The first value that is not None (None when all are)."""
    for v in values:
        if v is not None:
            return v
    return None


def lower(value: object) -> str:
    """Lower-case text."""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value.lower()


def upper(value: object) -> str:
    """Upper-case text."""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value.upper()


def startswith(value: object, prefix: str) -> bool:
    """Whether text ``value`` starts with ``prefix``."""
    return isinstance(value, str) and value.startswith(prefix)


def endswith(value: object, suffix: str) -> bool:
    """Whether text ``value`` ends with ``suffix``."""
    return isinstance(value, str) and value.endswith(suffix)


def contains(container: Any, item: Any) -> bool:
    """Whether ``item`` is in ``container`` (text, list or mapping keys)."""
    return item in container


def _sum(values: Iterable[Any]) -> Any:
    total: Any = 0
    for v in values:
        total = total + v
    return total


def _len(value: Any) -> int:
    return len(value)


def _abs(value: Any) -> Any:
    return abs(value)


def _min(*values: Any) -> Any:
    return min(values[0]) if len(values) == 1 else min(values)


def _max(*values: Any) -> Any:
    return max(values[0]) if len(values) == 1 else max(values)


def _any(values: Iterable[Any]) -> bool:
    return any(values)


def _all(values: Iterable[Any]) -> bool:
    return all(values)


def _keys(value: Mapping[Any, Any]) -> list[Any]:
    return list(value)


BUILTIN_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": _abs,
    "all": _all,
    "any": _any,
    "between": between,
    "coalesce": coalesce,
    "contains": contains,
    "date": date_of,
    "day": day,
    "days_between": days_between,
    "dec": dec,
    "endswith": endswith,
    "hour": hour,
    "in_band": in_band,
    "is_holiday": is_holiday,
    "is_weekend": is_weekend,
    "keys": _keys,
    "len": _len,
    "lower": lower,
    "max": _max,
    "min": _min,
    "minutes_between": minutes_between,
    "month": month,
    "percent": percent,
    "round": round_to,
    "startswith": startswith,
    "sum": _sum,
    "time_in": time_in,
    "upper": upper,
    "weekday": weekday,
    **CELL_FUNCTIONS,
}
"""The built-in functions, by name (registered through the same registry as plugins)."""
