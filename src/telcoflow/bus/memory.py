"""The in-process bus: the embedded default, with the protocol of the Redis Streams bus.

Partitions are queues guarded by one condition variable; one consumer group. Consumers of
the group (threads of one process) share the partitions evenly: a partition changes owner
only when its owner has nothing unacknowledged in it (or leaves), and its unacknowledged
messages go first to the next owner. Nothing survives the process.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence

from telcoflow.bus.base import (
    BackpressureError,
    BusError,
    DeadMessage,
    Message,
    partition_of,
)

__all__ = ["MemoryBus", "MemoryConsumer"]


class MemoryBus:
    """An in-process :class:`~telcoflow.bus.base.Bus` (one consumer group, ``group``)."""

    def __init__(self, partitions: int = 8, *, max_backlog: int = 100_000,
                 timeout: float = 30.0, group: str = "workers") -> None:
        if partitions < 1:
            raise BusError(f"`partitions` must be >= 1 (got {partitions})")
        if max_backlog < 1:
            raise BusError(f"`max_backlog` must be >= 1 (got {max_backlog})")
        self.partitions = partitions
        self.max_backlog = max_backlog
        self.timeout = timeout
        self.group = group
        self._cond = threading.Condition()
        self._queues: list[deque[Message]] = [deque() for _ in range(partitions)]
        self._pending: list[dict[str, Message]] = [{} for _ in range(partitions)]
        self._owner: list[str | None] = [None] * partitions
        self._members: dict[str, MemoryConsumer] = {}
        self._seq = itertools.count(1)
        self._dead: list[DeadMessage] = []

    # -- producing -------------------------------------------------------------------
    def publish(self, messages: Iterable[Message], *, timeout: float | None = None) -> int:
        """Append messages to their partitions; wait while a partition is full."""
        wait = self.timeout if timeout is None else timeout
        n = 0
        with self._cond:
            for m in messages:
                p = partition_of(m.key, self.partitions)
                queue, pending = self._queues[p], self._pending[p]
                if len(queue) + len(pending) >= self.max_backlog:
                    deadline = time.monotonic() + wait
                    while len(queue) + len(pending) >= self.max_backlog:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise BackpressureError(
                                f"partition {p} holds {len(queue) + len(pending)} messages not "
                                f"yet acknowledged (max_backlog {self.max_backlog}) for "
                                f"{wait:g} s: consumers are too slow or absent")
                        self._cond.wait(left)
                queue.append(Message(m.kind, m.key, m.body, f"{p}-{next(self._seq)}", p))
                n += 1
            self._cond.notify_all()
        return n

    # -- consuming -------------------------------------------------------------------
    def consumer(self, name: str, *, group: str = "workers") -> MemoryConsumer:
        """Join the group as ``name``."""
        if group != self.group:
            raise BusError(f"the in-process bus has one consumer group, {self.group!r} "
                           f"(got {group!r})")
        with self._cond:
            if name in self._members:
                raise BusError(f"consumer {name!r} is already in group {group!r}")
            consumer = MemoryConsumer(self, name)
            self._members[name] = consumer
            self._cond.notify_all()
            return consumer

    def _target(self, name: str) -> set[int]:
        names = sorted(self._members)
        i, n = names.index(name), len(names)
        return {p for p in range(self.partitions) if p % n == i}

    def _poll(self, consumer: MemoryConsumer, max_messages: int, timeout: float) -> list[Message]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if consumer.name not in self._members:
                    raise BusError(f"consumer {consumer.name!r} has left the group")
                self._balance(consumer)
                out: list[Message] = []
                for p in sorted(consumer.partitions):
                    queue, pending = self._queues[p], self._pending[p]
                    while queue and len(out) < max_messages:
                        m = queue.popleft()
                        pending[m.id] = m
                        out.append(m)
                if out:
                    return out
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)

    def _balance(self, consumer: MemoryConsumer) -> None:
        target = self._target(consumer.name)
        for p in list(consumer.partitions):
            if p not in target and not self._pending[p]:
                consumer.partitions.discard(p)
                self._owner[p] = None
                self._cond.notify_all()
        for p in target:
            if self._owner[p] is None:
                self._owner[p] = consumer.name
                consumer.partitions.add(p)
                self._requeue(p)

    def _requeue(self, p: int) -> None:
        pending = self._pending[p]
        if pending:
            self._queues[p].extendleft(reversed(list(pending.values())))
            pending.clear()

    def _ack(self, consumer: MemoryConsumer, messages: Sequence[Message]) -> None:
        with self._cond:
            for m in messages:
                self._pending[m.partition].pop(m.id, None)
            self._cond.notify_all()

    def _rewind(self, consumer: MemoryConsumer) -> None:
        with self._cond:
            for p in consumer.partitions:
                self._requeue(p)

    def _leave(self, consumer: MemoryConsumer) -> None:
        with self._cond:
            if self._members.get(consumer.name) is consumer:
                del self._members[consumer.name]
            for p in consumer.partitions:
                if self._owner[p] == consumer.name:
                    self._owner[p] = None
            consumer.partitions.clear()
            self._cond.notify_all()

    # -- dead letters, state ----------------------------------------------------------
    def dead_letter(self, message: Message, reason: str, detail: str, *,
                    consumer: str = "") -> None:
        """Keep ``message`` in the dead-letter list with why."""
        with self._cond:
            self._dead.append(DeadMessage(message, reason, detail, consumer))

    def dead_letters(self, limit: int = 1000) -> list[DeadMessage]:
        """The dead letters, oldest first."""
        with self._cond:
            return self._dead[:limit]

    def backlog(self) -> int:
        """Messages published and not yet acknowledged."""
        with self._cond:
            return sum(len(q) for q in self._queues) + sum(len(p) for p in self._pending)

    def reset(self) -> None:
        """Nothing to do: the in-process bus never loses messages while it lives."""

    def close(self) -> None:
        """Nothing to release."""


class MemoryConsumer:
    """A consumer of a :class:`MemoryBus` (see :class:`~telcoflow.bus.base.Consumer`)."""

    def __init__(self, bus: MemoryBus, name: str) -> None:
        self.bus = bus
        self.name = name
        self.partitions: set[int] = set()

    def poll(self, max_messages: int = 500, timeout: float = 1.0) -> list[Message]:
        """Up to ``max_messages`` messages of owned partitions, in order per partition."""
        return self.bus._poll(self, max_messages, timeout)

    def ack(self, messages: Sequence[Message]) -> None:
        """Mark ``messages`` processed."""
        self.bus._ack(self, messages)

    def rewind(self) -> None:
        """Deliver every unacknowledged message of owned partitions again."""
        self.bus._rewind(self)

    def owned(self) -> frozenset[int]:
        """The partitions owned now."""
        return frozenset(self.partitions)

    def close(self) -> None:
        """Leave the group (unacknowledged messages go to the next owners)."""
        self.bus._leave(self)
