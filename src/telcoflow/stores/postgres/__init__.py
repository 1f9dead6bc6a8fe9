"""PostgreSQL backends (psycopg 3), for many workers writing at once: one module per concept.

* :mod:`.connection` -- :class:`PostgresConnection` (re-opens itself, translates errors, keeps
  to a schema) and the numbered :data:`MIGRATIONS` of every component;
* :mod:`.ledger` -- :class:`PostgresLedgerStore`, a :class:`~telcoflow.ledger.LedgerStore`;
* :mod:`.journeys` -- :class:`PostgresJourneyStore`, a
  :class:`~telcoflow.journeys.store.JourneyStore`;
* :mod:`.bills` -- :class:`PostgresBillStore`, a :class:`~telcoflow.billing.cycle.store.BillStore`.
"""

from telcoflow.stores.postgres.bills import PostgresBillStore
from telcoflow.stores.postgres.connection import (
    MIGRATIONS,
    Migration,
    PostgresConnection,
    split_postgres_url,
)
from telcoflow.stores.postgres.journeys import PostgresJourneyStore
from telcoflow.stores.postgres.ledger import PostgresLedgerStore

__all__ = [
    "MIGRATIONS",
    "Migration",
    "PostgresBillStore",
    "PostgresConnection",
    "PostgresJourneyStore",
    "PostgresLedgerStore",
    "split_postgres_url",
]
