"""Rating usage into money: the small :class:`Rater` protocol and a table-driven rater.

A rater picks a :class:`Tariff` for a usage event; the tariff turns the used quantity into
charged units (increments) and charged units into an amount. Allowances are consumed by the
``rate`` step between the two (allowances first, then the price). Any rater -- a decision
table, a catalog, a rule pack -- plugs in by implementing :meth:`Rater.tariff`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from telcoflow.errors import RatingError
from telcoflow.events import UsageEvent

if TYPE_CHECKING:
    from telcoflow.accounts import SubscriberProfile

__all__ = ["PeriodTariff", "Rater", "TableRater", "Tariff", "UnitTariff"]

_ZERO = Decimal(0)
_ONE = Decimal(1)


@runtime_checkable
class Tariff(Protocol):
    """How one kind of usage is charged."""

    @property
    def item_type(self) -> str:
        """The ledger item type of the charges (``data``, ``roaming``...)."""
        ...

    def charged_units(self, quantity: Decimal) -> Decimal:
        """Units charged for ``quantity`` used (increments, minimums); monotone."""
        ...

    def amount(self, units: Decimal) -> Decimal:
        """Money for ``units`` charged units (after allowances); monotone, exact."""
        ...


@runtime_checkable
class PeriodTariff(Tariff, Protocol):
    """A tariff priced over a period (what :class:`~telcoflow.rating.catalog_rater.CatalogTariff`
    offers); the ``rate`` step uses these attributes when a tariff has them.

    When ``cumulative`` is true, the ``rate`` step keeps two counters per period, ``scope``
    (``subscriber`` or ``account``) and ``counter`` (the tariff and rate): the charged units
    (after allowances) and the amount posted; an event is charged
    ``period_amount(units after) - amount posted``. Usage in another ``unit`` is converted
    when exact. ``connect_fee`` is added per call, or per session when
    ``connect_per_session``.
    """

    cumulative: bool
    counter: str
    scope: str
    unit: str
    connect_fee: Decimal
    connect_per_session: bool

    def period_amount(self, units: Decimal) -> Decimal:
        """What ``units`` charged units cost over a whole period."""
        ...


@runtime_checkable
class Rater(Protocol):
    """Picks the tariff for a usage event and its subscriber."""

    def tariff(self, event: UsageEvent, subscriber: SubscriberProfile) -> Tariff:
        """The tariff for ``event``; raise :class:`~telcoflow.errors.RatingError` if none."""
        ...


@dataclass(frozen=True, slots=True)
class UnitTariff:
    """``price`` per charged unit; ``minimum`` units first, then per started ``step``.

    >>> UnitTariff("voice", Decimal("0.01"), step=Decimal(30), minimum=Decimal(60)).charged_units(
    ...     Decimal(61))
    Decimal('90')
    """

    item_type: str
    price: Decimal
    step: Decimal = _ONE
    minimum: Decimal = _ZERO

    def charged_units(self, quantity: Decimal) -> Decimal:
        """Units charged for ``quantity`` used."""
        if quantity <= 0:
            return _ZERO
        minimum = self.minimum
        if quantity <= minimum:
            return minimum
        step = self.step
        if step == _ONE:
            return quantity.to_integral_value(rounding=ROUND_CEILING)
        if step == 0:
            return quantity
        blocks = ((quantity - minimum) / step).to_integral_value(rounding=ROUND_CEILING)
        return minimum + blocks * step

    def amount(self, units: Decimal) -> Decimal:
        """``units * price``, exact."""
        return units * self.price


class TableRater:
    """A rater from a table keyed by ``(usage_type, zone, slice)``.

    Lookup falls back from the exact key to ``(usage_type, zone, "")``, then
    ``(usage_type, "*", "")``; results are cached per key.
    """

    def __init__(self, table: Mapping[tuple[str, str, str], Tariff]) -> None:
        self._table = dict(table)
        self._cache: dict[tuple[str, str, str], Tariff] = {}

    def tariff(self, event: UsageEvent, subscriber: SubscriberProfile) -> Tariff:
        """The tariff for the event's usage type, zone and slice."""
        key = (event.usage_type, event.zone, event.slice)
        found = self._cache.get(key)
        if found is not None:
            return found
        table = self._table
        found = (table.get(key) or table.get((event.usage_type, event.zone, ""))
                 or table.get((event.usage_type, "*", "")))
        if found is None:
            raise RatingError(
                f"no tariff for usage type {event.usage_type!r}, zone {event.zone!r}, slice "
                f"{event.slice!r} (event {event.id}); known keys: {sorted(table)}"
            )
        self._cache[key] = found
        return found
