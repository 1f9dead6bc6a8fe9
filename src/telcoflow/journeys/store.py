"""Where journey instances live: the small :class:`JourneyStore` protocol.

A backend implements seven small methods: ``create``/``create_many``, ``load``,
``save``/``save_many``, ``due`` and ``instances``. Saving is optimistic:
``save(instance, expected_version)`` succeeds only if the stored version still equals
``expected_version``, otherwise it raises :class:`~telcoflow.errors.ConcurrencyError`
(another worker moved the instance first; :func:`version_conflict` words it).

The backends live with the other stores, one module per backend:
:class:`~telcoflow.stores.memory.MemoryJourneyStore` (a dict of private copies: tests, one
process), :class:`~telcoflow.stores.sqlite.journeys.SQLiteJourneyStore` (the embedded
default) and :class:`~telcoflow.stores.postgres.journeys.PostgresJourneyStore` (many
workers). The SQLite and PostgreSQL backends store an instance as the same text
(:mod:`telcoflow.journeys.encoding`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from telcoflow.errors import ConcurrencyError
from telcoflow.journeys.instance import JourneyInstance

__all__ = ["JourneyStore", "version_conflict"]


@runtime_checkable
class JourneyStore(Protocol):
    """Storage of journey instances with optimistic concurrency."""

    def create(self, instance: JourneyInstance) -> None:
        """Add a new instance (``ConcurrencyError`` if its id exists)."""

    def create_many(self, instances: Sequence[JourneyInstance]) -> None:
        """Add new instances atomically (``ConcurrencyError`` if an id exists)."""

    def load(self, instance_id: str) -> JourneyInstance:
        """A private copy of the instance (``StoreError`` if unknown)."""

    def save(self, instance: JourneyInstance, expected_version: int) -> None:
        """Write the instance if the stored version is ``expected_version``."""

    def save_many(self, items: Sequence[tuple[JourneyInstance, int]]) -> None:
        """Save several ``(instance, expected_version)`` atomically (all or none)."""

    def due(self, now: float) -> list[str]:
        """Ids of instances with a deadline due at or before ``now``."""

    def instances(self, journey_id: str | None = None) -> Iterator[JourneyInstance]:
        """Every stored instance (of one journey, if given)."""


def version_conflict(instance_id: str, expected: int, found: int | None) -> ConcurrencyError:
    """The error of a save that expected ``expected`` but found ``found`` (``None``: gone)."""
    found_text = "it does not exist" if found is None else f"it is at version {found}"
    return ConcurrencyError(f"instance {instance_id} was moved by someone else: expected "
                            f"version {expected}, {found_text}")
