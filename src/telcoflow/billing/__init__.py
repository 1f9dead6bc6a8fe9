"""telcoflow.billing: the real-time process graph, its steps, the ledger, online charging.

Start with :func:`default_graph` and :class:`RealtimeBilling` (see ``docs/billing.md``).
Cycle close and bill documents live in :mod:`telcoflow.billing.cycle` and
:mod:`telcoflow.billing.documents`.

The names below load their module on first use: importing a subpackage (a bill run's worker
imports :mod:`telcoflow.billing.cycle`) does not pay for the real-time graph, the rating
engine and the catalog it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telcoflow._lazy import lazy_exports

if TYPE_CHECKING:
    from telcoflow.accounts import (
        AccountProfile,
        DictProfiles,
        DiscountRule,
        ProfileCache,
        SplitPolicy,
        SubscriberProfile,
    )
    from telcoflow.billing.batch import Batch, Item
    from telcoflow.billing.charging import Commit, Grant, OnlineCharging
    from telcoflow.billing.graph import GraphBuilder, ProcessGraph, Step
    from telcoflow.billing.realtime import (
        Adjustment,
        BatchResult,
        RealtimeBilling,
        StreamTotals,
        default_graph,
    )
    from telcoflow.billing.recurring import RecurringFees, prorate
    from telcoflow.billing.transaction import LedgerTransaction

_LAZY: dict[str, str] = {
    "AccountProfile": "telcoflow.accounts",
    "Adjustment": "telcoflow.billing.realtime",
    "Batch": "telcoflow.billing.batch",
    "BatchResult": "telcoflow.billing.realtime",
    "Commit": "telcoflow.billing.charging",
    "DictProfiles": "telcoflow.accounts",
    "DiscountRule": "telcoflow.accounts",
    "Grant": "telcoflow.billing.charging",
    "GraphBuilder": "telcoflow.billing.graph",
    "Item": "telcoflow.billing.batch",
    "LedgerTransaction": "telcoflow.billing.transaction",
    "OnlineCharging": "telcoflow.billing.charging",
    "ProcessGraph": "telcoflow.billing.graph",
    "ProfileCache": "telcoflow.accounts",
    "RealtimeBilling": "telcoflow.billing.realtime",
    "RecurringFees": "telcoflow.billing.recurring",
    "SplitPolicy": "telcoflow.accounts",
    "Step": "telcoflow.billing.graph",
    "StreamTotals": "telcoflow.billing.realtime",
    "SubscriberProfile": "telcoflow.accounts",
    "default_graph": "telcoflow.billing.realtime",
    "prorate": "telcoflow.billing.recurring",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
