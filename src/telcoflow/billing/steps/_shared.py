"""Shared pieces of the real-time steps: constants, the line-key interning, the sink type."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from telcoflow.events import (
    Notification,
    RatedRecord,
)
from telcoflow.ledger import (
    LineKey,
)

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)

LatePolicy = Literal["next", "reject"]
#: The usage types the default graph accepts: every service a catalog tariff may price.
USAGE_TYPES = ("data", "voice", "sms", "slice", "units")
Sink = Callable[[list[RatedRecord], list[Notification]], None]



_KEY_LIMIT = 1 << 20


def _intern(table: dict[LineKey, LineKey], key: LineKey) -> LineKey:
    """Keep one tuple per ledger line key (bounded), so claims share it.

    An event's effects refer to its line keys; a batch's new tuples that survive in the
    store's claims are walked by the garbage collector, shared ones are not.
    """
    if len(table) >= _KEY_LIMIT:
        table.clear()
    table[key] = key
    return key
