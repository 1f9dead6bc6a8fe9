"""telcoflow.billing: the real-time process graph, its steps, the ledger, online charging.

Start with :func:`default_graph` and :class:`RealtimeBilling` (see ``docs/billing.md``).
Cycle close and bill documents live in :mod:`telcoflow.billing.cycle` and
:mod:`telcoflow.billing.documents`.
"""

from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.charging import Commit, Grant, OnlineCharging
from telcoflow.billing.graph import GraphBuilder, ProcessGraph, Step
from telcoflow.billing.ledger import LedgerTransaction
from telcoflow.billing.profiles import (
    AccountProfile,
    DictProfiles,
    DiscountRule,
    ProfileCache,
    SplitPolicy,
    SubscriberProfile,
)
from telcoflow.billing.realtime import (
    Adjustment,
    BatchResult,
    RealtimeBilling,
    StreamTotals,
    default_graph,
)
from telcoflow.billing.recurring import RecurringFees, prorate

__all__ = [
    "AccountProfile",
    "Adjustment",
    "Batch",
    "BatchResult",
    "Commit",
    "DictProfiles",
    "DiscountRule",
    "Grant",
    "GraphBuilder",
    "Item",
    "LedgerTransaction",
    "OnlineCharging",
    "ProcessGraph",
    "ProfileCache",
    "RealtimeBilling",
    "RecurringFees",
    "SplitPolicy",
    "Step",
    "StreamTotals",
    "SubscriberProfile",
    "default_graph",
    "prorate",
]
