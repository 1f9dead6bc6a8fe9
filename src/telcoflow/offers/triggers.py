"""Offer triggers: the stateful rules of the offer-triggers pack
(``rules/5g/offer-triggers.rules.yaml``) over the network's event stream, run by the rule
engine's stateful engine (pure Python by default; ``backend="durable"``: durable-rules in
its isolated child process).

:class:`OfferTriggers` adds to each event the live venue event in its region at its time
(``venue_event``, from a :class:`VenueEvent` schedule), feeds the stateful engine, and
offers each offer at most once per window: a fired rule's ``once_per`` output names the
window (the venue event, the calendar day); a second firing in the same window for the same
subscriber is suppressed (counted in :attr:`OfferTriggers.suppressed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telcoflow.rules.functions import to_datetime
from telcoflow.rules.pack import RulePack
from telcoflow.rules.stateful import StatefulBackend, StatefulEngine

__all__ = ["OfferTriggers", "TriggeredOffer", "VenueEvent"]


@dataclass(frozen=True, slots=True)
class VenueEvent:
    """A live event (match, concert) in ``region`` during ``[start, end)``."""

    id: str
    region: str
    start: datetime
    end: datetime

    @classmethod
    def of(cls, id: str, region: str, start: object, end: object) -> VenueEvent:
        """Build from timestamps given as datetimes or ISO 8601 text."""
        return cls(id, region, to_datetime(start), to_datetime(end))


@dataclass(frozen=True, slots=True)
class TriggeredOffer:
    """An offer to make now: which rule fired, for whom, in which window, and why."""

    rule: str
    offer: str
    subscriber: str
    window: str
    reason: str
    at: Any


class OfferTriggers:
    """Runs the offer-triggers pack over events; at most one offer per rule, subscriber and
    window. ``backend`` is ``"python"`` (the default), ``"durable"`` or a backend object."""

    def __init__(self, pack: RulePack, *, venues: Iterable[VenueEvent] = (),
                 backend: str | StatefulBackend = "python") -> None:
        self.pack = pack
        self.engine = StatefulEngine(pack, backend)
        self.venues: dict[str, list[VenueEvent]] = {}
        for v in venues:
            self.venues.setdefault(v.region, []).append(v)
        self._offered: set[tuple[str, str, str]] = set()
        self.suppressed = 0
        """Firings not offered because the offer was already made in that window."""

    @property
    def backend(self) -> str:
        """The name of the stateful backend in use (``durable`` or ``python``)."""
        return self.engine.backend.name

    def venue_event(self, region: object, time: object) -> str | None:
        """The id of the live event in ``region`` at ``time``, if any."""
        if not isinstance(region, str) or region not in self.venues:
            return None
        t = to_datetime(time)
        for v in self.venues[region]:
            start, end = v.start, v.end
            if (t.tzinfo is None) != (start.tzinfo is None):
                t = t.replace(tzinfo=start.tzinfo)
            if start <= t < end:
                return v.id
        return None

    def process(self, event: Mapping[str, Any]) -> list[TriggeredOffer]:
        """Feed one network event (``type``, ``subscriber``, ``time``...); the offers to make
        now."""
        ev = dict(event)
        if "venue_event" not in ev:
            ev["venue_event"] = self.venue_event(ev.get("region"), ev.get("time"))
        out: list[TriggeredOffer] = []
        for fired in self.engine.process({"event": ev}):
            o = fired.outputs
            subscriber = str(o.get("subscriber", ev.get("subscriber")))
            window = str(o.get("once_per", ""))
            mark = (fired.rule, subscriber, window)
            if mark in self._offered:
                self.suppressed += 1
                continue
            self._offered.add(mark)
            out.append(TriggeredOffer(fired.rule, str(o.get("offer")), subscriber, window,
                                      str(o.get("reason", "")), fired.at))
        return out

    def process_many(self, events: Sequence[Mapping[str, Any]]) -> list[TriggeredOffer]:
        """:meth:`process` each event in order; every offer made."""
        return [t for ev in events for t in self.process(ev)]

    def forget(self, window: str) -> int:
        """Forget the offers made in ``window`` (e.g. once a match is over), so that the
        memory of offers made does not grow without end; returns how many were dropped."""
        gone = {mark for mark in self._offered if mark[2] == window}
        self._offered -= gone
        return len(gone)

    def close(self) -> None:
        """Release the stateful engine's state."""
        self.engine.close()
