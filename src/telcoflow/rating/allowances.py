"""Allowances (buckets): units included in an offer, consumed before money, by priority.

An :class:`Allowance` covers some usage types (and optionally some zones); its used units are
kept per subscriber and period in a counter ``alw|<subscriber>|<name>|<period>``, so they
reset each cycle and are undone by rerating like any other effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Allowance", "allowance_key"]


@dataclass(frozen=True, slots=True)
class Allowance:
    """``units`` of ``usage_types`` included per cycle; lower ``priority`` is used first.

    ``zones`` limits the allowance to some zones (``None``: every zone).
    """

    name: str
    units: Decimal
    usage_types: frozenset[str]
    zones: frozenset[str] | None = None
    priority: int = 0

    def covers(self, usage_type: str, zone: str) -> bool:
        """Whether usage of ``usage_type`` in ``zone`` draws on this allowance."""
        return usage_type in self.usage_types and (self.zones is None or zone in self.zones)


def allowance_key(subscriber: str, name: str, period: str) -> str:
    """The counter key of the units used of allowance ``name`` in ``period``."""
    return f"alw|{subscriber}|{name}|{period}"
