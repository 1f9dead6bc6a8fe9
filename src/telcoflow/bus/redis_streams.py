"""The event bus on Redis Streams: partitions, consumer groups, leases, XAUTOCLAIM.

Keys (``prefix`` defaults to ``telcoflow``):

- ``<prefix>:s:<p>`` -- partition ``p``'s stream; each consumer group reads it;
- ``<prefix>:lease:<group>:<p>`` -- which consumer owns partition ``p`` (expires unless renewed);
- ``<prefix>:members:<group>`` -- live consumers (sorted set of heartbeats);
- ``<prefix>:dead`` -- the dead-letter stream;
- ``<prefix>:epoch`` -- a random token; a Redis restart without persistence loses it.

**One owner per partition.** A consumer holds about ``ceil(partitions / live consumers)``
partition leases, renewed at each poll; a dead consumer's leases expire after ``lease_ms``
and the living take its partitions. The new owner first claims the partition's pending
entries from whoever had them (``XAUTOCLAIM``, oldest first) and processes them before any
new entry, so an account's events stay in order.

**Acknowledged means gone.** :meth:`RedisStreamConsumer.ack` does ``XACK`` and ``XDEL``, so a
stream's length is its backlog; :meth:`RedisStreamBus.publish` refuses to grow a partition
beyond ``max_backlog`` (it waits, then raises :class:`~telcoflow.bus.base.BackpressureError`).

**One Redis.** The Lua scripts touch two keys (the epoch and a stream): on Redis Cluster,
give a prefix with a hash tag (``{telcoflow}``) so that a bus's keys share one slot.

**Losing Redis.** Publishing is guarded by the epoch (a Lua script checks it and appends in
one step): after a restart that lost the streams, :meth:`RedisStreamBus.publish` raises
:class:`~telcoflow.bus.base.BusResetError` and publishes nothing; the producer re-publishes
what is not durably processed (ask the ledger: ``PostgresLedgerStore.processed``) and calls
:meth:`RedisStreamBus.reset`. Consumers re-create their groups and leases by themselves.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from telcoflow._optional import requires
from telcoflow.bus.base import (
    BackpressureError,
    BusError,
    BusResetError,
    BusUnavailableError,
    DeadMessage,
    Message,
    partition_of,
)
from telcoflow.privacy import redact_url

with requires("redis", "the Redis stream bus"):
    import redis

__all__ = ["RedisStreamBus", "RedisStreamConsumer"]

_PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[2]) then return -2 end
local n = 0
for i = 3, #ARGV, 3 do
  redis.call('XADD', KEYS[2], '*', 'k', ARGV[i], 'key', ARGV[i + 1], 'b', ARGV[i + 2])
  n = n + 1
end
return n
"""
_ACQUIRE = """
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@contextmanager
def _redis_errors(what: str, url: str) -> Iterator[None]:
    """Translate redis-py errors into ours at the boundary."""
    url = redact_url(url)
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise BusUnavailableError(f"Redis bus {url}: {what} failed, Redis is unreachable: "
                                  f"{exc}") from exc
    except redis.RedisError as exc:
        raise BusError(f"Redis bus {url}: {what} failed: {exc}") from exc


class RedisStreamBus:
    """A :class:`~telcoflow.bus.base.Bus` on Redis Streams (see the module docs).

    ``url`` is ``redis://host:port/db``. ``partitions`` must be the same for every producer
    and consumer of a deployment (it decides where an account's events go).
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "telcoflow",
                 partitions: int = 8, max_backlog: int = 50_000, timeout: float = 60.0,
                 lease_ms: int = 5_000, chunk: int = 500,
                 client: redis.Redis | None = None) -> None:
        if partitions < 1:
            raise BusError(f"`partitions` must be >= 1 (got {partitions})")
        if max_backlog < 1:
            raise BusError(f"`max_backlog` must be >= 1 (got {max_backlog})")
        self.url = url
        self.prefix = prefix
        self.partitions = partitions
        self.max_backlog = max_backlog
        self.timeout = timeout
        self.lease_ms = lease_ms
        self.chunk = chunk
        self.redis: redis.Redis = client if client is not None else redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=15.0, socket_connect_timeout=5.0,
            health_check_interval=30,
            # a body that is not valid UTF-8 (or a lone surrogate) is read and written as
            # escaped text: it becomes a dead letter instead of stopping the worker
            encoding_errors="backslashreplace")
        self._publish = self.redis.register_script(_PUBLISH)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._release = self.redis.register_script(_RELEASE)
        self._epoch: str | None = None

    # -- keys ------------------------------------------------------------------------
    def stream(self, p: int) -> str:
        """The stream key of partition ``p``."""
        return f"{self.prefix}:s:{p}"

    @property
    def epoch_key(self) -> str:
        """The key holding the epoch token."""
        return f"{self.prefix}:epoch"

    @property
    def dead_key(self) -> str:
        """The dead-letter stream key."""
        return f"{self.prefix}:dead"

    def epoch(self) -> str:
        """The current epoch token (created if Redis has none)."""
        with _redis_errors("reading the epoch", self.url):
            self.redis.set(self.epoch_key, uuid.uuid4().hex, nx=True)
            value = self.redis.get(self.epoch_key)
        return str(value)

    # -- producing -------------------------------------------------------------------
    def publish(self, messages: Iterable[Message], *, timeout: float | None = None) -> int:
        """Append messages to their partitions' streams, ``chunk`` at a time per partition.

        Waits while a partition holds ``max_backlog`` entries (backpressure) and raises
        :class:`BackpressureError` after ``timeout`` seconds; raises :class:`BusResetError`
        (nothing of this call published) if Redis lost the streams since this bus's epoch.
        """
        if self._epoch is None:
            self._epoch = self.epoch()
        wait = self.timeout if timeout is None else timeout
        by_partition: dict[int, list[str]] = {}
        count = 0
        for m in messages:
            by_partition.setdefault(partition_of(m.key, self.partitions), []).extend(
                (m.kind, m.key, m.body))
            count += 1
        step = 3 * self.chunk
        work = [(p, args[i:i + step]) for p, args in sorted(by_partition.items())
                for i in range(0, len(args), step)]
        deadline = time.monotonic() + wait
        while work:
            with _redis_errors("publishing", self.url), self.redis.pipeline(
                    transaction=False) as pipe:
                for p, args in work:
                    self._publish(keys=[self.epoch_key, self.stream(p)],
                                  args=[self._epoch, self.max_backlog, *args], client=pipe)
                results = pipe.execute()
            if any(r == -1 for r in results):
                if any(r > 0 for r in results):  # pragma: no cover - restart mid-pipeline
                    raise BusResetError(f"Redis bus {self.url}: Redis restarted while a "
                                        "publish was in progress: re-publish what is not "
                                        "processed, then call reset()")
                raise BusResetError(f"Redis bus {self.url}: the streams were lost (Redis "
                                    "restarted without persistence?): re-publish what is not "
                                    "processed, then call reset()")
            work = [w for w, r in zip(work, results, strict=True) if r == -2]
            if work:
                if time.monotonic() >= deadline:
                    full = sorted({p for p, _ in work})
                    raise BackpressureError(
                        f"Redis bus {self.url}: partition(s) {full} held {self.max_backlog} "
                        f"unacknowledged messages (max_backlog) for {wait:g} s: consumers "
                        "are too slow or absent")
                time.sleep(0.02)
        return count

    def lost(self) -> bool:
        """True if Redis lost the streams since this bus first published (a restart)."""
        return self._epoch is not None and self.epoch() != self._epoch

    def reset(self) -> None:
        """Adopt the new epoch after :class:`BusResetError` (once re-published)."""
        self._epoch = self.epoch()

    # -- consuming -------------------------------------------------------------------
    def consumer(self, name: str, *, group: str = "workers") -> RedisStreamConsumer:
        """A consumer ``name`` of ``group`` (names must be unique among live consumers)."""
        return RedisStreamConsumer(self, name, group)

    # -- dead letters, state ----------------------------------------------------------
    def dead_letter(self, message: Message, reason: str, detail: str, *,
                    consumer: str = "") -> None:
        """Append ``message`` to the dead-letter stream with why."""
        with _redis_errors("writing a dead letter", self.url):
            self.redis.xadd(self.dead_key, {
                "k": message.kind, "key": message.key, "b": message.body, "id": message.id,
                "p": message.partition, "reason": reason, "detail": detail,
                "consumer": consumer}, maxlen=100_000, approximate=True)

    def dead_letters(self, limit: int = 1000) -> list[DeadMessage]:
        """The dead-letter stream, oldest first."""
        with _redis_errors("reading dead letters", self.url):
            rows: Any = self.redis.xrange(self.dead_key, count=limit)
        return [DeadMessage(Message(f["k"], f["key"], f["b"], f["id"], int(f["p"])),
                            f["reason"], f["detail"], f["consumer"]) for _, f in rows]

    def backlog(self) -> int:
        """Entries not yet acknowledged in every partition."""
        with _redis_errors("reading the backlog", self.url), self.redis.pipeline(
                transaction=False) as pipe:
            for p in range(self.partitions):
                pipe.xlen(self.stream(p))
            return sum(int(n) for n in pipe.execute())

    def purge(self) -> int:
        """Delete every key of this bus (its prefix); return how many."""
        with _redis_errors("purging", self.url):
            keys = list(self.redis.scan_iter(match=f"{self.prefix}:*", count=1000))
            return int(self.redis.delete(*keys)) if keys else 0

    def close(self) -> None:
        """Close the connection pool."""
        self.redis.close()


class RedisStreamConsumer:
    """A member of a consumer group of a :class:`RedisStreamBus`.

    Holds partition leases (renewed every ``balance_s`` seconds at poll time), heartbeats
    its membership, and delivers owned partitions in order; see the module docs.
    """

    def __init__(self, bus: RedisStreamBus, name: str, group: str, *,
                 balance_s: float | None = None) -> None:
        self.bus = bus
        self.name = name
        self.group = group
        # heartbeats several times per lease, so a live member never looks dead
        self.balance_s = balance_s if balance_s is not None else min(0.5, bus.lease_ms / 4000)
        self.member_ttl_ms = bus.lease_ms
        self.resets = 0
        self._owned: set[int] = set()
        self._recovering: set[int] = set()
        self._next_balance = 0.0
        self._epoch: str | None = None
        self._members = f"{bus.prefix}:members:{group}"
        self._start = partition_of(name, bus.partitions)
        self._ensure_groups()

    def _lease(self, p: int) -> str:
        return f"{self.bus.prefix}:lease:{self.group}:{p}"

    def _ensure_groups(self) -> None:
        r = self.bus.redis
        with _redis_errors("creating consumer groups", self.bus.url):
            for p in range(self.bus.partitions):
                try:
                    r.xgroup_create(self.bus.stream(p), self.group, id="0", mkstream=True)
                except redis.ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise

    def owned(self) -> frozenset[int]:
        """The partitions owned now."""
        return frozenset(self._owned)

    def _balance(self) -> None:
        bus, r = self.bus, self.bus.redis
        now_ms = int(time.time() * 1000)
        owned = sorted(self._owned)
        with _redis_errors("renewing partition leases", bus.url):
            with r.pipeline(transaction=False) as pipe:
                pipe.zadd(self._members, {self.name: now_ms})
                pipe.zremrangebyscore(self._members, 0, now_ms - self.member_ttl_ms)
                pipe.zcard(self._members)
                pipe.set(bus.epoch_key, uuid.uuid4().hex, nx=True)
                pipe.get(bus.epoch_key)
                for p in owned:
                    bus._acquire(keys=[self._lease(p)], args=[self.name, bus.lease_ms],
                                 client=pipe)
                results = pipe.execute()
            live, epoch, renewed = int(results[2]), str(results[4]), results[5:]
            if self._epoch is not None and epoch != self._epoch:
                self.resets += 1  # Redis lost everything: groups first, then all pending
                self._ensure_groups()
                self._recovering |= self._owned
            self._epoch = epoch
            for p, ok in zip(owned, renewed, strict=True):
                if not ok:
                    self._owned.discard(p)
                    self._recovering.discard(p)
            target = math.ceil(bus.partitions / max(live, 1))
            extra = len(self._owned) - target
            for p in sorted(self._owned, reverse=True)[:max(extra, 0)]:
                bus._release(keys=[self._lease(p)], args=[self.name])
                self._owned.discard(p)
                self._recovering.discard(p)
            n = bus.partitions
            for i in range(n):
                if len(self._owned) >= target:
                    break
                p = (self._start + i) % n
                if p not in self._owned and bus._acquire(
                        keys=[self._lease(p)], args=[self.name, bus.lease_ms]):
                    self._owned.add(p)
                    self._recovering.add(p)
        self._next_balance = time.monotonic() + self.balance_s

    def _renew(self) -> None:
        """Renew the owned leases (each for ``lease_ms`` from now); drop those lost."""
        bus = self.bus
        owned = sorted(self._owned)
        with _redis_errors("renewing partition leases", bus.url), bus.redis.pipeline(
                transaction=False) as pipe:
            for p in owned:
                bus._acquire(keys=[self._lease(p)], args=[self.name, bus.lease_ms],
                             client=pipe)
            renewed = pipe.execute()
        for p, ok in zip(owned, renewed, strict=True):
            if not ok:
                self._owned.discard(p)
                self._recovering.discard(p)

    def poll(self, max_messages: int = 500, timeout: float = 1.0) -> list[Message]:
        """Up to ``max_messages`` messages of owned partitions: first the pending entries of
        partitions just taken over (or rewound), oldest first, then new entries.

        The leases are renewed before every read, so a partition lost while this consumer
        was busy (its lease expired, or Redis restarted and another consumer took it) is
        never read again: one owner per partition at any time.
        """
        if time.monotonic() >= self._next_balance:
            self._balance()
        elif self._owned:
            self._renew()
        if not self._owned:
            time.sleep(min(timeout, self.balance_s))
            return []
        try:
            return self._read(max_messages, timeout)
        except BusError as exc:
            # NOGROUP: Redis restarted and the groups are gone; UNBLOCKED: the stream was
            # deleted while this read was blocked on it (Redis 7). Both mean the streams were
            # lost: re-create the groups and let the producer re-publish.
            lost = "NOGROUP" in str(exc) or "UNBLOCKED" in str(exc)
            if not lost or isinstance(exc, BusUnavailableError):
                raise
            self._ensure_groups()
            self._recovering |= self._owned
            return []

    def _read(self, max_messages: int, timeout: float) -> list[Message]:
        bus, r = self.bus, self.bus.redis
        with _redis_errors("reading", bus.url):
            for p in sorted(self._recovering & self._owned):
                reply: Any = r.xautoclaim(bus.stream(p), self.group, self.name, 0, "0-0",
                                     count=max_messages)
                entries = [e for e in reply[1] if e and e[1] is not None]
                if entries:
                    return [_message(p, e) for e in entries]
                self._recovering.discard(p)
            streams: Any = {bus.stream(p): ">" for p in sorted(self._owned)}
            per_stream = max(1, math.ceil(max_messages / len(streams)))
            block = max(1, int(timeout * 1000))
            block = min(block, int(max(self._next_balance - time.monotonic(), 0.001) * 1000) + 1)
            got: Any = r.xreadgroup(self.group, self.name, streams, count=per_stream, block=block)
        out: list[Message] = []
        for key, entries in got or ():
            p = int(key.rsplit(":", 1)[1])
            out.extend(_message(p, e) for e in entries if e[1] is not None)
        return out

    def ack(self, messages: Sequence[Message]) -> None:
        """``XACK`` and ``XDEL`` the messages (processed: never delivered again)."""
        if not messages:
            return
        by_partition: dict[int, list[str]] = {}
        for m in messages:
            by_partition.setdefault(m.partition, []).append(m.id)
        bus = self.bus
        with _redis_errors("acknowledging", bus.url), bus.redis.pipeline(
                transaction=False) as pipe:
            for p, ids in by_partition.items():
                pipe.xack(bus.stream(p), self.group, *ids)
                pipe.xdel(bus.stream(p), *ids)
            pipe.execute()

    def rewind(self) -> None:
        """Deliver every unacknowledged entry of owned partitions again, oldest first."""
        self._recovering |= self._owned

    def close(self) -> None:
        """Release owned partitions and leave the member set (clean shutdown)."""
        bus = self.bus
        with _redis_errors("leaving the group", bus.url):
            for p in list(self._owned):
                bus._release(keys=[self._lease(p)], args=[self.name])
            bus.redis.zrem(self._members, self.name)
        self._owned.clear()
        self._recovering.clear()


def _message(p: int, entry: Any) -> Message:
    entry_id, fields = entry
    return Message(fields["k"], fields["key"], fields["b"], entry_id, p)
