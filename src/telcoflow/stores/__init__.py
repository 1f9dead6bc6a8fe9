"""Ledger store backends: memory and SQLite here; PostgreSQL and Redis in their modules.

The protocol they implement, and the types they store, live in :mod:`telcoflow.ledger`.
"""

from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteLedgerStore

__all__ = [
    "MemoryLedgerStore",
    "SQLiteLedgerStore",
]
