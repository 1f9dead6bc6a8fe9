"""Hooks from recommendations into journeys: a recommendation whose offer names a journey
(``journey:`` in the tuning file, e.g. the slice-pass purchase journey) can start it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telcoflow.errors import EventRejectedError
from telcoflow.journeys.instance import JourneyInstance
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.offers.recommend import Recommendation

__all__ = ["start_offer_journey"]


def start_offer_journey(recommendation: Recommendation, runtime: JourneyRuntime, *,
                        subscriber: str, channel: str = "app", save: bool = True,
                        context: Mapping[str, Any] | None = None) -> JourneyInstance:
    """Start the journey of ``recommendation``'s offer for ``subscriber``.

    The instance context gets ``offer_id``, ``subscriber``, ``score`` (text) and ``reasons``
    (why the offer was recommended), plus ``context``. With ``save`` it is added to the
    runtime's store (:meth:`JourneyRuntime.create`). Raises
    :class:`~telcoflow.errors.EventRejectedError` when the offer names no journey or the
    journey is not registered.
    """
    if recommendation.journey is None:
        raise EventRejectedError(f"offer {recommendation.offer!r} names no journey "
                                 "(add `journey:` to it in the tuning file)",
                                 reason="no-journey")
    ctx: dict[str, Any] = {"offer_id": recommendation.offer, "subscriber": subscriber,
                           "score": str(recommendation.score),
                           "reasons": recommendation.reasons()}
    if context:
        ctx.update(context)
    if save:
        return runtime.create(recommendation.journey, channel=channel, context=ctx)
    return runtime.start(recommendation.journey, channel=channel, context=ctx)
