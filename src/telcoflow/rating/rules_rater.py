"""Tariff choice by a rule pack: a :class:`~telcoflow.rating.rater.Rater` over rules + catalog.

A rating rule pack (``rules/rating/``) has a decision (``tariff`` by default) that maps a usage
event -- service, zone, time, slice class, region -- to ``{"tariff": id, "rate": id | null}``.
:class:`RulesRater` asks the pack, then prices with the catalog's compiled tariff and the
chosen rate's price model. Decisions are cached per distinct input (the time to the minute),
so the rules run once per key, not once per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from telcoflow.catalog import Catalog
from telcoflow.errors import RatingError, TelcoflowError
from telcoflow.events import UsageEvent
from telcoflow.rating.catalog_rater import CatalogTariff
from telcoflow.rating.price_models import CompiledTariff, compile_price, compile_tariffs
from telcoflow.rating.rater import Tariff
from telcoflow.rules import RulePack

if TYPE_CHECKING:
    from telcoflow.accounts import SubscriberProfile

__all__ = ["RulesRater"]

_UNRATED = frozenset({"unrated", "", None})


class RulesRater:
    """Choose tariff and rate with ``pack``'s ``decision``; price with ``catalog``.

    ``home_zones`` rate as the tariff's service, other zones as ``roaming``. Usage with a
    slice name is offered to the rules as service ``slice``.
    """

    def __init__(self, pack: RulePack, catalog: Catalog, *, decision: str = "tariff",
                 home_zones: tuple[str, ...] = ("home",)) -> None:
        self.pack = pack
        self.catalog = catalog
        self.decision = decision
        self.home_zones = frozenset(home_zones)
        self._compiled: Mapping[str, CompiledTariff] = compile_tariffs(catalog)
        self._cache: dict[tuple[Any, ...], CatalogTariff] = {}

    def _choose(self, event: UsageEvent, service: str) -> tuple[str, str | None]:
        context = {"event": {
            "service": service, "zone": event.zone, "time": event.start,
            "slice_class": event.slice.lower() or None, "region": event.region or None,
        }}
        try:
            value = self.pack.decide(self.decision, context)
        except TelcoflowError as exc:
            raise RatingError(f"event {event.id}: rule pack {self.pack.name!r} decision "
                              f"{self.decision!r} failed: {exc}") from exc
        if not isinstance(value, Mapping) or value.get("tariff") in _UNRATED:
            raise RatingError(f"event {event.id}: rule pack {self.pack.name!r} chose no tariff "
                              f"for service {service!r}, zone {event.zone!r} (got {value!r})")
        return str(value["tariff"]), value.get("rate")

    def tariff(self, event: UsageEvent, subscriber: SubscriberProfile) -> Tariff:
        """The tariff the rules choose for ``event``."""
        start = event.start
        service = "slice" if event.slice else event.usage_type
        key = (service, event.zone, event.slice, event.region, start.toordinal(), start.hour,
               start.minute)
        found = self._cache.get(key)
        if found is not None:
            return found
        tariff_id, rate_id = self._choose(event, service)
        compiled = self._compiled.get(tariff_id)
        if compiled is None:
            raise RatingError(f"event {event.id}: the rules chose tariff {tariff_id!r}, which "
                              f"the catalog does not have (known: {sorted(self._compiled)})")
        fn = None
        if rate_id is None:
            _, fn = compiled.price_function()
        else:
            for rate in compiled.tariff.rates:
                if rate.id == rate_id:
                    fn = compile_price(rate.price, factor=compiled.factor)
                    break
            if fn is None:
                raise RatingError(
                    f"event {event.id}: the rules chose rate {rate_id!r} of tariff "
                    f"{tariff_id!r}, which has rates {[r.id for r in compiled.tariff.rates]}")
        item_type = compiled.tariff.service if event.zone in self.home_zones else "roaming"
        found = CatalogTariff(item_type, compiled, rate_id, fn)
        self._cache[key] = found
        return found

    def amount_for(self, event: UsageEvent, subscriber: SubscriberProfile) -> Decimal:
        """Convenience: the amount of ``event`` without allowances."""
        t = self.tariff(event, subscriber)
        return t.amount(t.charged_units(event.quantity))
