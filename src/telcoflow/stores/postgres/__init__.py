"""PostgreSQL backends (psycopg 3), for many workers writing at once: one module per concept.

* :mod:`.connection` -- :class:`PostgresConnection` (re-opens itself, translates errors, keeps
  to a schema) and the numbered :data:`MIGRATIONS` of every component;
* :mod:`.ledger` -- :class:`PostgresLedgerStore`, a :class:`~telcoflow.ledger.LedgerStore`;
* :mod:`.journeys` -- :class:`PostgresJourneyStore`, a
  :class:`~telcoflow.journeys.store.JourneyStore`;
* :mod:`.bills` -- :class:`PostgresBillStore`, a :class:`~telcoflow.billing.cycle.store.BillStore`.

The names below load their module on first use, so ``import
telcoflow.stores.postgres.ledger`` (or ``.connection``) needs only the ``postgres`` extra,
not the journeys one that the journey store's module brings in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telcoflow._lazy import lazy_exports

if TYPE_CHECKING:
    from telcoflow.stores.postgres.bills import PostgresBillStore
    from telcoflow.stores.postgres.connection import (
        MIGRATIONS,
        Migration,
        PostgresConnection,
        split_postgres_url,
    )
    from telcoflow.stores.postgres.journeys import PostgresJourneyStore
    from telcoflow.stores.postgres.ledger import PostgresLedgerStore

_LAZY: dict[str, str] = {
    "MIGRATIONS": "telcoflow.stores.postgres.connection",
    "Migration": "telcoflow.stores.postgres.connection",
    "PostgresBillStore": "telcoflow.stores.postgres.bills",
    "PostgresConnection": "telcoflow.stores.postgres.connection",
    "PostgresJourneyStore": "telcoflow.stores.postgres.journeys",
    "PostgresLedgerStore": "telcoflow.stores.postgres.ledger",
    "split_postgres_url": "telcoflow.stores.postgres.connection",
}

__all__ = [
    "MIGRATIONS",
    "Migration",
    "PostgresBillStore",
    "PostgresConnection",
    "PostgresJourneyStore",
    "PostgresLedgerStore",
    "split_postgres_url",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
