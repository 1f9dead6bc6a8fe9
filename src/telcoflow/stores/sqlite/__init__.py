"""SQLite backends, embedded and durable: one module per concept.

* :mod:`.ledger` -- :class:`SQLiteLedgerStore`, a :class:`~telcoflow.ledger.LedgerStore`
  (and the ``ledger`` table's schema, :data:`~.ledger.LEDGER_TABLE`, written once);
* :mod:`.journeys` -- :class:`SQLiteJourneyStore`, a
  :class:`~telcoflow.journeys.store.JourneyStore`;
* :mod:`.bills` -- :class:`SQLiteBillStore`, a :class:`~telcoflow.billing.cycle.store.BillStore`;
* :mod:`.sources` -- what a bill run reads: :class:`SQLiteLedger` (the ledger store's file)
  and :class:`SQLiteAccounts` (an account directory), and :func:`sqlite_job`;
* :mod:`.connection` -- connections and immediate transactions of the bill-run files.
"""

from telcoflow.stores.sqlite.bills import SQLiteBillStore
from telcoflow.stores.sqlite.journeys import SQLiteJourneyStore
from telcoflow.stores.sqlite.ledger import SQLiteLedgerStore, pending_claims, recover
from telcoflow.stores.sqlite.sources import SQLiteAccounts, SQLiteLedger, sqlite_job

__all__ = [
    "SQLiteAccounts",
    "SQLiteBillStore",
    "SQLiteJourneyStore",
    "SQLiteLedger",
    "SQLiteLedgerStore",
    "pending_claims",
    "recover",
    "sqlite_job",
]
