"""telcoflow: 5G catalogs, rule packs, real-time billing and customer journeys for BSS teams."""

from telcoflow.errors import (
    CurrencyMismatchError,
    DefinitionError,
    MoneyError,
    Problem,
    TelcoflowError,
)
from telcoflow.money import Currency, Increment, Money, RoundingPolicy

__version__ = "0.1.0"

__all__ = [
    "Currency",
    "CurrencyMismatchError",
    "DefinitionError",
    "Increment",
    "Money",
    "MoneyError",
    "Problem",
    "RoundingPolicy",
    "TelcoflowError",
    "__version__",
]
