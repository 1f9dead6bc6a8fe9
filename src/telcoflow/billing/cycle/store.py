"""Where a bill run records its work: the :class:`BillStore` protocol and what it stores.

A bill run writes each batch of finished accounts in one transaction that first *claims* the
batch's accounts (an account already billed is left alone, a skip recorded by an earlier run
is replaced) and then writes the bills of the accounts it claimed. A crash loses at most the
batch in flight; no account is ever billed twice, and only a bill finishes an account.

The backends live with the other stores:
:class:`~telcoflow.stores.sqlite.bills.SQLiteBillStore` (one file, safe across processes) and
:class:`~telcoflow.stores.postgres.bills.PostgresBillStore` (many shard workers);
:func:`telcoflow.config.open_bill_store` opens either by URL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol, runtime_checkable

from telcoflow.billing.cycle.model import Bill, SkippedAccount

__all__ = ["BillStore", "FinishedAccount", "StoreTotals"]


class FinishedAccount(NamedTuple):
    """One account's outcome ready to be written: a bill with its documents, or a skip."""

    account_id: str
    bill: Bill | None
    skipped: SkippedAccount | None = None
    documents: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class StoreTotals:
    """What the store holds for a cycle: bills, skipped accounts, totals per currency."""

    bills: int
    skipped: tuple[SkippedAccount, ...]
    totals: dict[str, Decimal]


@runtime_checkable
class BillStore(Protocol):
    """The bill-run state: finished accounts and their bills, per cycle."""

    def finished_accounts(self, cycle: str) -> set[str]:
        """Ids of the accounts billed for ``cycle`` (a skipped account is not finished)."""
        ...

    def write(self, cycle: str, finished: Sequence[FinishedAccount]) -> set[str]:
        """Claim and write a batch in one transaction; return the ids already billed."""
        ...

    def totals(self, cycle: str) -> StoreTotals:
        """Bills, skipped accounts and bill totals per currency stored for ``cycle``."""
        ...

    def bill_counts(self, cycle: str) -> dict[str, int]:
        """Number of stored bills per account for ``cycle`` (each should be exactly 1)."""
        ...

    def document(self, cycle: str, account_id: str, fmt: str = "xml") -> bytes | None:
        """One stored document (``xml``, ``html`` or ``json``) of an account's bill."""
        ...

    def documents(self, cycle: str, fmt: str = "xml") -> Iterator[tuple[str, bytes]]:
        """Every stored document of ``fmt`` for ``cycle``: (account id, bytes)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
