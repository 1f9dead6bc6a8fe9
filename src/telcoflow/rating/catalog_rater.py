"""Rating from the product catalog: a :class:`~telcoflow.rating.rater.Rater` over a ``Catalog``.

:class:`CatalogRater` picks, for a usage event, the subscriber's offering version valid on
the event's day, the usage price of that offering for the event's service (``slice`` when the
event names a slice and the offering has a slice tariff), and the tariff rate matching the
event's zone, time band, slice class and region; the math is the catalog's compiled price
models (:mod:`telcoflow.rating.price_models`). Everything is cached per distinct key, so the
hot path is one dictionary lookup per event.

:meth:`CatalogRater.allowances` converts an offering's catalog allowances into rating
:class:`~telcoflow.accounts.SubscriberAllowance` buckets in the tariff's usage unit, and
:meth:`CatalogRater.monthly_fees` lists each offering's flat monthly recurring fee.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from telcoflow.accounts import SubscriberAllowance
from telcoflow.catalog import Catalog, RecurringPrice, UsagePrice
from telcoflow.errors import RatingError
from telcoflow.events import UsageEvent
from telcoflow.rating.price_models import (
    CompiledTariff,
    PriceFunction,
    compile_tariffs,
    recurring_amount,
    unit_factor,
)
from telcoflow.rating.rater import PeriodTariff, Tariff

if TYPE_CHECKING:
    from telcoflow.accounts import SubscriberProfile

__all__ = ["CatalogRater", "CatalogTariff"]


class CatalogTariff:
    """One catalog tariff rate, ready for the ``rate`` step (a :class:`PeriodTariff`).

    ``cumulative`` tariffs (tiers, packages, capacity and volume prices, a period minimum,
    per-event rounding) are priced over the period: the ``rate`` step keeps the period's
    charged units and posted amount per ``scope`` and ``counter`` and charges each event
    ``period_amount(units after) - amount posted``.
    """

    __slots__ = ("_compiled", "_exponent", "_fn", "connect_fee", "connect_per_session",
                 "counter", "cumulative", "item_type", "rate_id", "scope", "unit")

    def __init__(self, item_type: str, compiled: CompiledTariff, rate_id: str | None,
                 fn: PriceFunction, scope: str = "subscriber") -> None:
        tariff = compiled.tariff
        self.item_type = item_type
        self.rate_id = rate_id
        self.unit: str = tariff.unit
        self.scope = scope
        self.counter = f"{tariff.id}|{rate_id or '-'}"
        self.cumulative = compiled.cumulative(rate_id)
        fee = tariff.connect_fee
        self.connect_fee = fee.amount if fee is not None else Decimal(0)
        self.connect_per_session = fee is not None and fee.per == "session"
        self._compiled = compiled
        self._fn = fn
        rounding = tariff.rounding
        self._exponent: int | None = None
        if rounding.per_event:
            places = rounding.places
            self._exponent = compiled.currency.exponent if places is None else places

    def charged_units(self, quantity: Decimal) -> Decimal:
        """Units charged after the tariff's increments."""
        return self._compiled.charged_quantity(quantity)

    def amount(self, units: Decimal) -> Decimal:
        """The price model's exact amount (rounded per event if the tariff says so)."""
        amount = self._fn(units)
        if self._exponent is not None:
            amount = self._compiled.tariff.rounding.policy.quantize(amount, self._exponent)
        return amount

    def period_amount(self, units: Decimal) -> Decimal:
        """What ``units`` charged units cost over a whole period (tiers, minimum, rounding)."""
        return self._compiled.period_amount(self._fn, units)


class CatalogRater:
    """A rater over a loaded catalog; ``home_zones`` rate as the service, others as roaming."""

    def __init__(self, catalog: Catalog, *, home_zones: Iterable[str] = ("home",),
                 use_time_bands: bool = True) -> None:
        self.catalog = catalog
        self.home_zones = frozenset(home_zones)
        self.use_time_bands = use_time_bands
        self._compiled = compile_tariffs(catalog)
        self._tariff_of: dict[tuple[str, int, str], tuple[str, str]] = {}
        self._cache: dict[tuple[str, str, str | None, str, str, str], CatalogTariff] = {}
        self._bands: dict[tuple[int, int, int], str | None] = {}
        self._banded = {
            t.id for t in catalog.tariffs if any(r.bands for r in t.rates)
        }

    def _tariff_id(self, offer: str, day: date, service: str,
                   event_id: str) -> tuple[str, str]:
        """The tariff pricing ``service`` under ``offer`` on ``day``, and its aggregation."""
        key = (offer, day.toordinal(), service)
        found = self._tariff_of.get(key)
        if found is not None:
            return found
        try:
            offering = self.catalog.offering(offer, on=day)
        except KeyError as exc:
            raise RatingError(f"event {event_id}: {exc.args[0] if exc.args else exc}") from None
        by_service: dict[str, tuple[str, str]] = {}
        for price in offering.prices:
            if isinstance(price, UsagePrice):
                by_service[self.catalog.tariff(price.tariff).service] = (price.tariff,
                                                                          price.aggregation)
        tariff_id = by_service.get(service)
        if tariff_id is None:
            raise RatingError(
                f"event {event_id}: offering {offer!r} (version {offering.version}) has no "
                f"usage price for service {service!r} (it prices {sorted(by_service)})"
            )
        self._tariff_of[key] = tariff_id
        return tariff_id

    def tariff(self, event: UsageEvent, subscriber: SubscriberProfile) -> Tariff:
        """The catalog tariff rate for ``event`` under the subscriber's offering."""
        start = event.start
        day = start.date()
        service = event.usage_type
        if event.slice:
            try:
                tariff_id, scope = self._tariff_id(subscriber.offer, day, "slice", event.id)
                service = "slice"
            except RatingError:
                tariff_id, scope = self._tariff_id(subscriber.offer, day, service, event.id)
        else:
            tariff_id, scope = self._tariff_id(subscriber.offer, day, service, event.id)
        return self._rate(tariff_id, scope, service, start, event.zone, event.slice,
                          event.region)

    def _rate(self, tariff_id: str, scope: str, service: str, start: datetime, zone: str,
              slice_class: str, region: str) -> CatalogTariff:
        band: str | None = None
        if self.use_time_bands and tariff_id in self._banded:
            bkey = (start.toordinal(), start.hour, start.minute)
            if bkey in self._bands:
                band = self._bands[bkey]
            else:
                band = self._bands[bkey] = self.catalog.band_at(start)
        key = (tariff_id, scope, band, zone, slice_class, region)
        found = self._cache.get(key)
        if found is None:
            compiled = self._compiled[tariff_id]
            rate_id, fn = compiled.price_function(
                zone=zone, band=band, slice_class=slice_class or None, region=region or None)
            item_type = service if zone in self.home_zones else "roaming"
            found = CatalogTariff(item_type, compiled, rate_id, fn, scope)
            self._cache[key] = found
        return found

    def period_tariffs(self, subscriber: SubscriberProfile,
                       start: datetime) -> tuple[PeriodTariff, ...]:
        """The subscriber's period-priced tariffs (default price, home zone) on ``start``'s
        day: those whose period charge a period without usage still owes (a first tier's
        flat fee, a ``minimum_charge``) are settled by an ``open_period`` event."""
        day = start.date()
        try:
            offering = self.catalog.offering(subscriber.offer, on=day)
        except KeyError:
            return ()
        home = next(iter(sorted(self.home_zones)), "home")
        out: list[PeriodTariff] = []
        for price in offering.prices:
            if isinstance(price, UsagePrice):
                service = self.catalog.tariff(price.tariff).service
                tariff = self._rate(price.tariff, price.aggregation, service, start, home,
                                    "", "")
                if tariff.cumulative:
                    out.append(tariff)
        return tuple(out)

    def allowances(self, offer: str, on: date | None = None) -> tuple[SubscriberAllowance, ...]:
        """The offering's usage allowances as rating buckets, in each tariff's usage unit."""
        offering = self.catalog.offering(offer, on=on)
        out = []
        for allowance_id in offering.allowances:
            a = self.catalog.allowance(allowance_id)
            if a.service == "money":
                continue
            tariffs = [self.catalog.tariff(t) for t in a.tariffs] or [
                t for t in self.catalog.tariffs if t.service == a.service]
            if not tariffs:
                continue
            units = a.quantity * unit_factor(tariffs[0].unit, a.unit)
            out.append(SubscriberAllowance(a.id, units, frozenset({a.service}),
                                 frozenset(a.zones) if a.zones else None, a.priority))
        return tuple(sorted(out, key=lambda x: x.priority))

    def monthly_fees(self, on: date | None = None) -> dict[str, Decimal]:
        """Each offering's flat monthly recurring fees (summed), by offering id."""
        fees: dict[str, Decimal] = {}
        currency = self.catalog.default_currency
        for offer_id in self.catalog.offering_versions:
            offering = self.catalog.offering(offer_id, on=on)
            total = Decimal(0)
            for price in offering.prices:
                if (isinstance(price, RecurringPrice) and price.period == "month"
                        and price.per is None and price.cycles is None):
                    total += recurring_amount(price, currency).amount
            fees[offer_id] = total
        return fees
