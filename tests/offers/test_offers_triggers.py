"""Stateful offer triggers on both backends: at most once per window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from offers_world import pack

from telcoflow.offers import OfferTriggers, VenueEvent

BACKENDS = ["python", pytest.param("durable", marks=pytest.mark.durable_rules)]
MATCH = VenueEvent.of("match-1", "stadium-north", "2026-11-27T18:00:00Z",
                      "2026-11-27T21:00:00Z")
CONCERT = VenueEvent.of("concert-9", "stadium-north", "2026-11-28T19:00:00Z",
                        "2026-11-28T23:00:00Z")


@pytest.fixture(params=BACKENDS)
def triggers(request: pytest.FixtureRequest) -> Iterator[OfferTriggers]:
    t = OfferTriggers(pack("offer-triggers.rules.yaml"), venues=[MATCH, CONCERT],
                      backend=request.param)
    assert t.backend == request.param
    yield t
    t.close()


def _enter(sub: str, time: str, **extra: object) -> dict[str, object]:
    return {"type": "region-enter", "subscriber": sub, "time": time, "region": "stadium-north",
            "five_g": True, "has_pass": False, **extra}


def test_the_stadium_pass_is_offered_once_per_venue_event(triggers: OfferTriggers) -> None:
    made = triggers.process(_enter("a", "2026-11-27T18:10:00Z"))
    assert [(t.offer, t.subscriber, t.window) for t in made] == [
        ("stadium-pass-3h", "a", "match-1")]
    # leaves and comes back during the same match: not offered again
    assert triggers.process(_enter("a", "2026-11-27T19:40:00Z")) == []
    assert triggers.suppressed == 1
    # another subscriber is offered
    assert [t.subscriber for t in triggers.process(_enter("b", "2026-11-27T19:41:00Z"))] == [
        "b"]
    # after the match: no live event, no offer
    assert triggers.process(_enter("a", "2026-11-27T21:00:00Z")) == []
    # the next day's concert is a new window
    made = triggers.process(_enter("a", "2026-11-28T19:30:00Z"))
    assert [(t.offer, t.window) for t in made] == [("stadium-pass-3h", "concert-9")]
    # once the match is over its marks can go: a and b were offered during match-1
    assert triggers.forget("match-1") == 2
    assert triggers.forget("match-1") == 0


def test_no_offer_with_a_pass_or_without_5g(triggers: OfferTriggers) -> None:
    assert triggers.process(_enter("a", "2026-11-27T18:10:00Z", has_pass=True)) == []
    assert triggers.process(_enter("b", "2026-11-27T18:10:00Z", five_g=False)) == []


def test_the_scenic_broadcast_once_a_day_for_travellers(triggers: OfferTriggers) -> None:
    def use(mb: int, time: str, segments: tuple[str, ...] = ("traveller",)) -> list[str]:
        ev = {"type": "usage", "subscriber": "t", "time": time, "volume_mb": mb,
              "segments": list(segments), "region": "scenic-coast"}
        return [f"{o.offer}@{o.window}" for o in triggers.process(ev)]

    # 600 + 400 = 1000 MB: not more than 1 GB; + 1 MB = 1001 MB -> offered
    assert use(600, "2026-11-27T09:00:00Z") == []
    assert use(400, "2026-11-27T10:00:00Z") == []
    assert use(1, "2026-11-27T11:00:00Z") == ["scenic-live@2026-11-27"]
    # another 2 GB the same day: the rule fires again (its sum restarted) but is suppressed
    assert use(2000, "2026-11-27T12:00:00Z") == []
    assert triggers.suppressed == 1
    # the next day: offered again once it passes 1 GB
    assert use(1500, "2026-11-28T08:00:00Z") == ["scenic-live@2026-11-28"]


def test_the_venue_schedule() -> None:
    t = OfferTriggers(pack("offer-triggers.rules.yaml"), venues=[MATCH], backend="python")
    assert t.venue_event("stadium-north", "2026-11-27T18:00:00Z") == "match-1"
    assert t.venue_event("stadium-north", "2026-11-27T21:00:00Z") is None  # end exclusive
    assert t.venue_event("capital", "2026-11-27T19:00:00Z") is None
    assert t.venue_event(None, "2026-11-27T19:00:00Z") is None
    # a given venue_event is kept as is
    made = t.process({**_enter("z", "2026-11-27T10:00:00Z"), "venue_event": "private-1"})
    assert [o.window for o in made] == ["private-1"]
