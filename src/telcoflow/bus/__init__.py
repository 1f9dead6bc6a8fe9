"""The event bus: a protocol, the in-process bus (embedded default), Redis Streams.

:mod:`telcoflow.bus.redis_streams` imports ``redis`` (the ``redis`` extra); import it (or use
:func:`telcoflow.config.open_bus`) only when needed.
"""

from telcoflow.bus.base import (
    BackpressureError,
    Bus,
    BusError,
    BusResetError,
    BusUnavailableError,
    Consumer,
    DeadMessage,
    Message,
    partition_of,
)
from telcoflow.bus.codec import (
    bill_run_messages,
    billing_message,
    decode_event,
    encode_event,
    journey_message,
)
from telcoflow.bus.memory import MemoryBus, MemoryConsumer

__all__ = [
    "BackpressureError",
    "Bus",
    "BusError",
    "BusResetError",
    "BusUnavailableError",
    "Consumer",
    "DeadMessage",
    "MemoryBus",
    "MemoryConsumer",
    "Message",
    "bill_run_messages",
    "billing_message",
    "decode_event",
    "encode_event",
    "journey_message",
    "partition_of",
]
