"""Cycle close and the bill run: ledger lines of a bill cycle -> bills, only where consumed.

* :mod:`.model`: the bill, bill cycles, billing accounts;
* :mod:`.policy`: the close policy (payment terms, documents, dunning text, the catalog);
* :mod:`.close`: :func:`close_account`, one account's bill, statement or payer document;
* :mod:`.sources`: the read-only protocols a close reads through (ledger, accounts);
* :mod:`.store`, :mod:`.run`: the sharded, resumable bill run on a process pool (the bill
  store's protocol; its SQLite and PostgreSQL backends are in :mod:`telcoflow.stores`).
"""

from telcoflow.billing.cycle.close import CycleCloser, close_account
from telcoflow.billing.cycle.model import (
    AccountPosition,
    Bill,
    BillCycle,
    BillingAccount,
    BillLine,
    DiscountApplied,
    Member,
    MemberCharge,
    PayerPart,
    PayerRule,
    SkippedAccount,
    Subscription,
    TaxSummary,
    check_bill,
)
from telcoflow.billing.cycle.policy import (
    ClosePolicy,
    Issuer,
    load_close_policy,
    parse_close_policy,
    validate_policy_files,
)
from telcoflow.billing.cycle.run import BillRunJob, BillRunSummary, Shard, bill_run
from telcoflow.billing.cycle.sources import (
    AccountDirectory,
    LedgerReader,
    MemoryAccounts,
    MemoryLedger,
)
from telcoflow.billing.cycle.store import BillStore

__all__ = [
    "AccountDirectory",
    "AccountPosition",
    "Bill",
    "BillCycle",
    "BillLine",
    "BillRunJob",
    "BillRunSummary",
    "BillStore",
    "BillingAccount",
    "ClosePolicy",
    "CycleCloser",
    "DiscountApplied",
    "Issuer",
    "LedgerReader",
    "Member",
    "MemberCharge",
    "MemoryAccounts",
    "MemoryLedger",
    "PayerPart",
    "PayerRule",
    "Shard",
    "SkippedAccount",
    "Subscription",
    "TaxSummary",
    "bill_run",
    "check_bill",
    "close_account",
    "load_close_policy",
    "parse_close_policy",
    "validate_policy_files",
]
