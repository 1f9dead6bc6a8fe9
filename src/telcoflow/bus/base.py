"""The event bus protocol: producers, consumers in a group, partitions by account.

A message has a ``kind`` (``billing``, ``journey``, ``billrun``...), a ``key`` (the account
id for billing events) and a text ``body``. The key picks one of ``partitions`` partitions
(CRC-32, stable across processes); within a consumer group each partition is owned by one
consumer at a time and delivered in order, so one account's events are handled in order by
one worker at a time.

Delivery is *at least once*: a consumer acknowledges what it has durably processed; what it
did not acknowledge (it died, lost its partition, or called :meth:`Consumer.rewind` after a
failure) is delivered again, first, to the partition's next owner. Deduplication by event id
downstream (the ledger's claims) makes redelivery safe.

Backpressure: :meth:`Bus.publish` waits while a partition holds ``max_backlog`` messages not
yet acknowledged, and raises :class:`BackpressureError` if that lasts ``timeout`` seconds.
"""

from __future__ import annotations

import os
import socket
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from telcoflow.errors import (  # re-exported: defined in errors.py
    BackpressureError,
    BusError,
    BusResetError,
    BusUnavailableError,
)

__all__ = [
    "BackpressureError",
    "Bus",
    "BusError",
    "BusResetError",
    "BusUnavailableError",
    "Consumer",
    "DeadMessage",
    "Message",
    "default_consumer_name",
    "partition_of",
]










@dataclass(frozen=True, slots=True)
class Message:
    """One message: ``kind``, partition ``key`` and ``body`` text.

    ``id`` and ``partition`` are set by the bus on delivery (empty / -1 when publishing).
    """

    kind: str
    key: str
    body: str
    id: str = ""
    partition: int = -1


@dataclass(frozen=True, slots=True)
class DeadMessage:
    """A message moved to the dead-letter stream, with why (``reason`` code and detail)."""

    message: Message
    reason: str
    detail: str
    consumer: str = ""


def default_consumer_name() -> str:
    """``<host>-<pid>``: unique per running process (a pod's name in Kubernetes)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def partition_of(key: str, partitions: int) -> int:
    """The partition of ``key`` among ``partitions`` (CRC-32: the same in every process)."""
    return zlib.crc32(key.encode()) % partitions


@runtime_checkable
class Consumer(Protocol):
    """One member of a consumer group: polls the partitions it owns, acknowledges."""

    name: str

    def poll(self, max_messages: int = 500, timeout: float = 1.0) -> list[Message]:
        """Up to ``max_messages`` messages of owned partitions, in order per partition
        (waits up to ``timeout`` seconds for some)."""
        ...

    def ack(self, messages: Sequence[Message]) -> None:
        """Mark ``messages`` durably processed (they are never delivered again)."""
        ...

    def rewind(self) -> None:
        """Deliver every unacknowledged message of owned partitions again (after a failure)."""
        ...

    def owned(self) -> frozenset[int]:
        """The partitions this consumer owns now."""
        ...

    def close(self) -> None:
        """Leave the group: owned partitions go to the others at once (clean shutdown)."""
        ...


@runtime_checkable
class Bus(Protocol):
    """An event bus: publish, consume in groups, dead letters."""

    partitions: int

    def publish(self, messages: Iterable[Message], *, timeout: float | None = None) -> int:
        """Publish messages (partitioned by key); return how many; may wait (backpressure)."""
        ...

    def consumer(self, name: str, *, group: str = "workers") -> Consumer:
        """A consumer named ``name`` (unique in its group) of ``group``."""
        ...

    def dead_letter(self, message: Message, reason: str, detail: str, *,
                    consumer: str = "") -> None:
        """Move ``message`` to the dead-letter stream with a reason code and detail."""
        ...

    def dead_letters(self, limit: int = 1000) -> list[DeadMessage]:
        """The dead-letter stream, oldest first."""
        ...

    def backlog(self) -> int:
        """Messages published and not yet acknowledged (all partitions)."""
        ...

    def reset(self) -> None:
        """Accept that the bus lost its messages (after :class:`BusResetError`)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def chunks(messages: Sequence[Message], size: int) -> Iterable[Sequence[Message]]:
    """``messages`` cut in slices of ``size``."""
    for start in range(0, len(messages), size):
        yield messages[start:start + size]
