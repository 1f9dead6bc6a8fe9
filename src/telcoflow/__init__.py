"""telcoflow: 5G catalogs, rule packs, real-time billing and customer journeys for BSS teams.

The most used names are importable from here; they load their module on first use, so
``import telcoflow`` stays cheap. Each area's full API lives in its package
(``telcoflow.catalog``, ``telcoflow.rules``, ``telcoflow.billing``, ``telcoflow.journeys``...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telcoflow._lazy import lazy_exports
from telcoflow.errors import (
    ConcurrencyError,
    CurrencyMismatchError,
    DefinitionError,
    EventRejectedError,
    ExpressionError,
    GraphError,
    JourneyError,
    MoneyError,
    Problem,
    RatingError,
    RuleError,
    RunInterruptedError,
    StoreError,
    TelcoflowError,
    TelcoflowRuntimeError,
)
from telcoflow.money import Currency, Increment, Money, RoundingPolicy

if TYPE_CHECKING:
    from telcoflow.billing import GraphBuilder, OnlineCharging, RealtimeBilling, default_graph
    from telcoflow.billing.kpis import Kpis
    from telcoflow.catalog import Catalog
    from telcoflow.journeys import ActionRegistry, JourneyRuntime, load_journey
    from telcoflow.loading.catalog import load_catalog
    from telcoflow.rules import RuleHost, compile_expression, explain, load_pack
    from telcoflow.stores.memory import MemoryLedgerStore
    from telcoflow.stores.sqlite import SQLiteLedgerStore
    from telcoflow.testing import run_pack_tests

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "ActionRegistry": "telcoflow.journeys",
    "Catalog": "telcoflow.catalog",
    "GraphBuilder": "telcoflow.billing",
    "JourneyRuntime": "telcoflow.journeys",
    "Kpis": "telcoflow.billing.kpis",
    "MemoryLedgerStore": "telcoflow.stores.memory",
    "OnlineCharging": "telcoflow.billing",
    "RealtimeBilling": "telcoflow.billing",
    "RuleHost": "telcoflow.rules",
    "SQLiteLedgerStore": "telcoflow.stores.sqlite",
    "compile_expression": "telcoflow.rules",
    "default_graph": "telcoflow.billing",
    "explain": "telcoflow.rules",
    "load_catalog": "telcoflow.loading.catalog",
    "load_journey": "telcoflow.journeys",
    "load_pack": "telcoflow.rules",
    "run_pack_tests": "telcoflow.testing",
}

__all__ = [
    "ActionRegistry",
    "Catalog",
    "ConcurrencyError",
    "Currency",
    "CurrencyMismatchError",
    "DefinitionError",
    "EventRejectedError",
    "ExpressionError",
    "GraphBuilder",
    "GraphError",
    "Increment",
    "JourneyError",
    "JourneyRuntime",
    "Kpis",
    "MemoryLedgerStore",
    "Money",
    "MoneyError",
    "OnlineCharging",
    "Problem",
    "RatingError",
    "RealtimeBilling",
    "RoundingPolicy",
    "RuleError",
    "RuleHost",
    "RunInterruptedError",
    "SQLiteLedgerStore",
    "StoreError",
    "TelcoflowError",
    "TelcoflowRuntimeError",
    "__version__",
    "compile_expression",
    "default_graph",
    "explain",
    "load_catalog",
    "load_journey",
    "load_pack",
    "run_pack_tests",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
