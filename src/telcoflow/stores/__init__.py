"""Storage protocols and their backends (memory, SQLite; PostgreSQL can follow the protocol)."""

from telcoflow.stores.base import (
    ChangeSet,
    Claim,
    DeadLetter,
    LedgerLine,
    LedgerStore,
    LineKey,
)
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteLedgerStore

__all__ = [
    "ChangeSet",
    "Claim",
    "DeadLetter",
    "LedgerLine",
    "LedgerStore",
    "LineKey",
    "MemoryLedgerStore",
    "SQLiteLedgerStore",
]
