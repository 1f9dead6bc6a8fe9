"""Where and when usage happens: zones, time bands, holidays, 5G slice classes and regions.

* :class:`Zone`: home or roaming zone, by country code (``"*"`` matches any country).
* :class:`TimeBand`: weekdays, a time-of-day window and/or holidays; the first matching band
  in catalog order wins, so list ``holiday`` before ``weekend`` before ``peak`` / ``offpeak``.
* :class:`Holiday`, :class:`SliceClass` (eMBB / URLLC / mMTC with QoS), :class:`Region`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from telcoflow.catalog.common import Frozen, Id

__all__ = [
    "Holiday",
    "Region",
    "SliceClass",
    "SliceKind",
    "TimeBand",
    "Weekday",
    "Zone",
]


class Weekday(str, Enum):
    """Days of the week as written in catalogs (``mon`` .. ``sun``)."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as in :meth:`datetime.date.weekday`."""
        return _WEEKDAY_NUMBER[self]


_WEEKDAY_NUMBER = {d: i for i, d in enumerate(Weekday)}


def _clock(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f"write times as HH:MM, or as quoted strings such as \"20:00\" (found the number "
            f"{value})"
        )
    return value


Clock = Annotated[time, BeforeValidator(_clock)]


class Zone(Frozen):
    """A rating zone: ``home`` or ``roaming``, covering ``countries`` (ISO codes, ``*`` = any)."""

    id: Id
    name: str = ""
    kind: Literal["home", "roaming"] = "roaming"
    countries: tuple[Annotated[str, Field(pattern=r"^([A-Z]{2,3}|\*)$")], ...] = ()


class Holiday(Frozen):
    """A public holiday (used by bands with ``holidays: true``)."""

    date: date
    name: str = ""


class TimeBand(Frozen):
    """A time band: matches when weekday, time of day and holiday conditions all hold.

    ``start``/``end`` form a window in local time, ``end`` exclusive; ``start`` after ``end``
    wraps past midnight (``"20:00"`` to ``"08:00"``). Empty ``weekdays`` means every day.
    ``holidays: true`` matches only holidays; ``false`` (default) matches any day.
    """

    id: Id
    name: str = ""
    weekdays: tuple[Weekday, ...] = ()
    start: Clock | None = None
    end: Clock | None = None
    holidays: bool = False

    @model_validator(mode="after")
    def _window(self) -> TimeBand:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both `start` and `end`, or neither")
        if self.start is not None and self.start == self.end:
            raise ValueError(f"`start` and `end` must differ (both {self.start})")
        return self

    def matches(self, moment: datetime, *, holiday: bool) -> bool:
        """Whether ``moment`` (local time) falls in this band; ``holiday`` says if it is one."""
        if self.holidays and not holiday:
            return False
        if self.weekdays and moment.weekday() not in {d.number for d in self.weekdays}:
            return False
        if self.start is None or self.end is None:
            return True
        now = moment.time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


SliceKind = Literal["eMBB", "URLLC", "mMTC"]


class SliceClass(Frozen):
    """A 5G network slice class with its QoS: kind, 5QI, guaranteed bit rate, latency."""

    id: Id
    name: str = ""
    kind: SliceKind
    five_qi: Annotated[int, Field(ge=1, le=255)] | None = None
    guaranteed_mbps: Annotated[int, Field(ge=0)] | None = None
    max_latency_ms: Annotated[int, Field(ge=0)] | None = None


class Region(Frozen):
    """A network region (a city, a stadium, a coverage area) for slices and offers."""

    id: Id
    name: str = ""
