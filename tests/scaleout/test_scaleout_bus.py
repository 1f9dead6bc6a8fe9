"""The bus protocol, run against the in-process bus and Redis Streams alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scaleout_helpers import REDIS_URL, redis_prefix

from telcoflow.bus import (
    BackpressureError,
    Bus,
    BusResetError,
    Consumer,
    MemoryBus,
    Message,
    billing_message,
    decode_event,
    encode_event,
    partition_of,
)
from telcoflow.errors import EventRejectedError
from telcoflow.events import FeeEvent, LifecycleEvent, PaymentEvent, UsageEvent

BusFactory = Callable[..., Bus]


@pytest.fixture(params=["memory", "redis"])
def make_bus(request: pytest.FixtureRequest,
             require_service: Callable[[str], None]) -> Iterator[BusFactory]:
    if request.param == "memory":
        yield lambda **kw: MemoryBus(**kw)
        return
    from telcoflow.bus.redis_streams import RedisStreamBus

    request.applymarker(pytest.mark.services)
    made: list[RedisStreamBus] = []
    with redis_prefix(require_service) as prefix:
        def factory(**kw: object) -> Bus:
            kw.setdefault("lease_ms", 400)
            bus = RedisStreamBus(REDIS_URL, prefix=prefix, **kw)  # type: ignore[arg-type]
            made.append(bus)
            return bus

        yield factory
        for b in made:
            b.close()


def drain(consumer: Consumer, want: int, *, seconds: float = 5.0,
          ack: bool = True) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + seconds
    while len(got) < want and time.monotonic() < deadline:
        batch = consumer.poll(100, timeout=0.1)
        got += batch
        if ack:
            consumer.ack(batch)
    return got


def messages(n: int, keys: int) -> list[Message]:
    return [Message("billing", f"acc-{i % keys}", f"body-{i}") for i in range(n)]


def test_every_message_is_delivered_in_order_per_key(make_bus: BusFactory) -> None:
    bus = make_bus(partitions=4)
    assert bus.publish(messages(200, 20)) == 200
    got = drain(bus.consumer("c1"), 200)
    assert len(got) == 200
    for k in range(20):  # acc-k got bodies k, k+20, k+40... in that order
        bodies = [m.body for m in got if m.key == f"acc-{k}"]
        assert bodies == [f"body-{i}" for i in range(k, 200, 20)]
    assert all(m.partition == partition_of(m.key, 4) for m in got)
    assert bus.backlog() == 0


def test_two_consumers_share_the_partitions(make_bus: BusFactory) -> None:
    bus = make_bus(partitions=8)
    a, b = bus.consumer("a"), bus.consumer("b")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        a.poll(10, timeout=0.05)
        b.poll(10, timeout=0.05)
        if len(a.owned()) == 4 and len(b.owned()) == 4:
            break
    assert a.owned() | b.owned() == frozenset(range(8))
    assert not a.owned() & b.owned()  # one owner per partition


def test_a_dead_consumers_unacked_messages_go_first_to_the_next_owner(
        make_bus: BusFactory) -> None:
    bus = make_bus(partitions=1)
    bus.publish(messages(10, 1))
    dead = bus.consumer("dead")
    first = dead.poll(4, timeout=1)
    assert [m.body for m in first] == ["body-0", "body-1", "body-2", "body-3"]
    if isinstance(bus, MemoryBus):
        dead.close()  # in one process, leaving without acknowledging is dying
    # (on Redis the dead consumer simply stops renewing its lease: it expires after 0.4 s)
    heir = bus.consumer("heir")
    got = drain(heir, 10)
    # the four unacknowledged come again, first, then the rest: order kept
    assert [m.body for m in got] == [f"body-{i}" for i in range(10)]


def test_rewind_delivers_the_unacknowledged_again(make_bus: BusFactory) -> None:
    bus = make_bus(partitions=2)
    bus.publish(messages(6, 2))
    c = bus.consumer("c")
    got = drain(c, 6, ack=False)
    assert len(got) == 6
    c.rewind()
    again = drain(c, 6)
    assert sorted(m.body for m in again) == sorted(m.body for m in got)
    assert bus.backlog() == 0


def test_backpressure_waits_then_refuses(make_bus: BusFactory) -> None:
    bus = make_bus(partitions=1, max_backlog=5)
    bus.publish(messages(5, 1))
    with pytest.raises(BackpressureError, match="max_backlog"):
        bus.publish(messages(1, 1), timeout=0.1)
    c = bus.consumer("c")
    drain(c, 5)  # the consumer catches up...
    assert bus.publish(messages(1, 1), timeout=0.1) == 1  # ...and the producer may go on


def test_dead_letter_stream_keeps_message_and_reason(make_bus: BusFactory) -> None:
    bus = make_bus(partitions=1)
    msg = Message("billing", "acc-1", "not json", "1-0", 0)
    bus.dead_letter(msg, "undecodable", "cannot decode", consumer="w1")
    (dead,) = bus.dead_letters()
    assert (dead.message.body, dead.reason, dead.detail, dead.consumer) == (
        "not json", "undecodable", "cannot decode", "w1")


@pytest.mark.services
def test_redis_restart_loses_streams_and_the_producer_is_told(
        require_service: Callable[[str], None]) -> None:
    from telcoflow.bus.redis_streams import RedisStreamBus

    with redis_prefix(require_service) as prefix:
        bus = RedisStreamBus(REDIS_URL, prefix=prefix, partitions=2, lease_ms=400)
        bus.publish(messages(4, 2))
        c = bus.consumer("c")
        assert len(drain(c, 4)) == 4
        bus.purge()  # what a restart without persistence does to this bus's keys
        with pytest.raises(BusResetError, match="re-publish"):
            bus.publish(messages(1, 1))
        assert bus.backlog() == 0  # nothing of the refused call was published
        bus.reset()
        bus.publish(messages(3, 3))
        # the consumer re-creates its group and leases by itself and gets the new messages
        assert sorted(m.body for m in drain(c, 3)) == ["body-0", "body-1", "body-2"]
        bus.close()


def test_streams_deleted_under_a_blocked_read_do_not_crash_the_consumer(
        require_service: Callable[[str], None]) -> None:
    import threading

    from telcoflow.bus.redis_streams import RedisStreamBus, RedisStreamConsumer

    with redis_prefix(require_service) as prefix:
        bus = RedisStreamBus(REDIS_URL, prefix=prefix, partitions=1, lease_ms=20_000)
        bus.publish(messages(1, 1))
        # rebalancing only every 10 s, so the next poll blocks in XREADGROUP for its timeout
        c = RedisStreamConsumer(bus, "c", "workers", balance_s=10.0)
        assert len(drain(c, 1)) == 1
        outcome: list[object] = []

        def blocked_read() -> None:
            try:
                outcome.append(c.poll(10, timeout=3.0))
            except Exception as exc:  # the test reports what escaped
                outcome.append(exc)

        reader = threading.Thread(target=blocked_read)
        reader.start()
        time.sleep(0.5)  # the read is now blocked in XREADGROUP
        bus.purge()  # deletes the stream under it: Redis answers "UNBLOCKED ..."
        reader.join(10)
        assert outcome == [[]]  # an empty read, not a BusError
        bus.reset()
        bus.publish(messages(2, 1))
        assert sorted(m.body for m in drain(c, 2)) == ["body-0", "body-1"]
        bus.close()


EVENTS = [
    UsageEvent("u1", "s1", "a1", "data", datetime(2026, 11, 3, 10, 0, 5), Decimal("12.5"),
               zone="roam-eu", slice="URLLC", rating_group=7),
    FeeEvent("f1", "s1", "a1", "recurring", datetime(2026, 11, 1), Decimal("30.00")),
    LifecycleEvent("l1", "s1", "a1", "change_offer", datetime(2026, 11, 2), offer="5g-max",
                   previous_offer="5g-plus"),
    PaymentEvent("p1", "a1", "top_up", datetime(2026, 11, 4), Decimal("10.00")),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.kind)
def test_codec_round_trips_every_event_kind_exactly(event: object) -> None:
    body = encode_event(event)  # type: ignore[arg-type]
    back = decode_event(body)
    assert back == event
    assert type(back) is type(event)


def test_billing_messages_are_keyed_by_account() -> None:
    m = billing_message(EVENTS[0])  # type: ignore[arg-type]
    assert (m.kind, m.key) == ("billing", "a1")


@pytest.mark.parametrize("body", ["not json", '["usage", "u1"]', '["nope"]',
                                  '["payment","p","a","top_up","2026-11-04T00:00:00",10.0,'
                                  '"EUR",""]'])
def test_undecodable_bodies_are_rejected_with_a_reason(body: str) -> None:
    with pytest.raises(EventRejectedError, match="cannot decode") as info:
        decode_event(body)
    assert info.value.reason == "undecodable"


@pytest.mark.services
def test_a_consumer_never_reads_a_partition_whose_lease_it_lost(
        require_service: Callable[[str], None]) -> None:
    from telcoflow.bus.redis_streams import RedisStreamBus

    with redis_prefix(require_service) as prefix:
        bus = RedisStreamBus(REDIS_URL, prefix=prefix, partitions=1, lease_ms=5000)
        a = bus.consumer("a")
        a.poll(10, timeout=0.05)
        assert a.owned() == frozenset({0})
        # while `a` was busy, its lease went to `b` (expired, or Redis lost it)
        bus.redis.set(f"{prefix}:lease:workers:0", "b", px=5000)
        bus.publish(messages(3, 1))
        assert a.poll(10, timeout=0.05) == []  # checked before reading: not read
        assert a.owned() == frozenset()
        bus.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["ack", "rewind", "die"]),
                          st.integers(1, 7)), max_size=25))
def test_in_process_bus_keeps_each_keys_order_whatever_consumers_do(
        ops: list[tuple[int, str, int]]) -> None:
    # whatever consumers do -- acknowledge, rewind after a failure, die holding messages --
    # each key's messages are first acknowledged in publishing order, and none is lost
    bus = MemoryBus(3)
    sent = messages(40, 5)
    bus.publish(sent)
    names = {i: f"c{i}" for i in range(3)}
    consumers = {i: bus.consumer(names[i]) for i in range(3)}
    acked: list[str] = []
    generation = 0
    for who, what, n in ops:
        c = consumers[who]
        batch = c.poll(n, timeout=0)
        if what == "ack":
            c.ack(batch)
            acked += [m.body for m in batch]
        elif what == "rewind":
            c.rewind()
        else:
            c.close()
            generation += 1
            consumers[who] = bus.consumer(f"{names[who]}-{generation}")
    survivor = consumers[0]
    for c in list(consumers.values())[1:]:
        c.close()
    acked += [m.body for m in drain(survivor, 40 - len(set(acked)), seconds=1)]
    first = list(dict.fromkeys(acked))
    assert sorted(first) == sorted(m.body for m in sent)  # none lost
    for k in range(5):
        key_bodies = [b for b in first if int(b.split("-")[1]) % 5 == k]
        assert key_bodies == [f"body-{i}" for i in range(k, 40, 5)]
