"""SQLite backends, embedded and durable: one module per concept.

* :mod:`.ledger` -- :class:`SQLiteLedgerStore`, a :class:`~telcoflow.ledger.LedgerStore`
  (and the ``ledger`` table's schema, :data:`~.ledger.LEDGER_TABLE`, written once);
* :mod:`.journeys` -- :class:`SQLiteJourneyStore`, a
  :class:`~telcoflow.journeys.store.JourneyStore`;
* :mod:`.bills` -- :class:`SQLiteBillStore`, a :class:`~telcoflow.billing.cycle.store.BillStore`;
* :mod:`.sources` -- what a bill run reads: :class:`SQLiteLedger` (the ledger store's file)
  and :class:`SQLiteAccounts` (an account directory), and :func:`sqlite_job`;
* :mod:`.connection` -- connections and immediate transactions of the bill-run files.

The names below load their module on first use, so the ledger store does not bring in the
journeys package (and its extra) that the journey store's module needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telcoflow._lazy import lazy_exports

if TYPE_CHECKING:
    from telcoflow.stores.sqlite.bills import SQLiteBillStore
    from telcoflow.stores.sqlite.journeys import SQLiteJourneyStore
    from telcoflow.stores.sqlite.ledger import SQLiteLedgerStore, pending_claims, recover
    from telcoflow.stores.sqlite.sources import SQLiteAccounts, SQLiteLedger, sqlite_job

_LAZY: dict[str, str] = {
    "SQLiteAccounts": "telcoflow.stores.sqlite.sources",
    "SQLiteBillStore": "telcoflow.stores.sqlite.bills",
    "SQLiteJourneyStore": "telcoflow.stores.sqlite.journeys",
    "SQLiteLedger": "telcoflow.stores.sqlite.sources",
    "SQLiteLedgerStore": "telcoflow.stores.sqlite.ledger",
    "pending_claims": "telcoflow.stores.sqlite.ledger",
    "recover": "telcoflow.stores.sqlite.ledger",
    "sqlite_job": "telcoflow.stores.sqlite.sources",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
