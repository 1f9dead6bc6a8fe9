"""Poison messages: every one becomes a dead letter and is acknowledged; the worker goes on."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scaleout_helpers import REDIS_URL, redis_prefix

from telcoflow.billing.realtime import default_graph
from telcoflow.bus import MemoryBus, Message, billing_message
from telcoflow.demo.generator import Population, generate_events, generate_population
from telcoflow.events import Event
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.worker import Worker, WorkerApp

POISON = [
    '["usage",["x"],"S000000-1","A000000","data","2026-11-02T00:00:00","5","MB","home"]',
    '["usage","ev-s","S000000-1\\ud800","A000000","data","2026-11-02T00:00:00","5","MB","home"]',
    "[" * 100_000 + "]" * 100_000,
    '["usage","ev-big","S000000-1","A000000","data","2026-11-02T00:00:00","1e999999","MB",'
    '"home"]',
    '["usage","ev-none",null,"A000000","data","2026-11-02T00:00:00","5","MB","home"]',
    '["usage","ev-t","S000000-1","A000000","data",17,"5","MB","home"]',
    '{"kind": "usage"}',
    "\udcff\udcfe",
    '["payment","ev-p","A000000","payment","2026-11-02T00:00:00",5]',
]


@pytest.fixture(scope="module")
def world() -> tuple[Population, list[Event]]:
    pop = generate_population(20, seed=3)
    return pop, list(generate_events(pop, events=300, seed=4))


def app_of(pop: Population) -> WorkerApp:
    return WorkerApp(default_graph(pop.profiles, pop.rater, fees=pop.fees))


def test_each_poison_message_is_dead_lettered_acknowledged_and_the_rest_billed(
        world: tuple[Population, list[Event]]) -> None:
    pop, events = world
    bus = MemoryBus(1)
    bus.publish([billing_message(e) for e in events[:100]])
    bus.publish([Message("billing", "A000000", body) for body in POISON])
    bus.publish([billing_message(e) for e in events[100:]])
    store = MemoryLedgerStore()
    handled = Worker(store, app_of(pop), bus, name="w1", batch_size=50).run(idle_exit=0.2)
    assert handled == len(events) + len(POISON)
    assert bus.backlog() == 0  # everything acknowledged
    assert store.claim_count() == len(events)  # every good event billed
    dead = store.dead_letters()
    assert len(dead) == len(POISON)
    for d in dead:
        for text in (d.event_id, d.message, d.payload):
            text.encode("utf-8")  # storable anywhere


# 100 runs of 100-120 messages: at least 10,000 generated bus messages per test run
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(bodies=st.lists(st.one_of(
    st.text(max_size=80),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                 lambda inner: st.lists(inner, max_size=10), max_leaves=30).map(json.dumps),
    st.lists(st.one_of(st.text(max_size=10), st.integers(), st.none()), max_size=14).map(
        lambda xs: json.dumps(["usage", *xs])),
), min_size=100, max_size=120))
def test_fuzz_bus_messages_never_stop_the_worker(world: tuple[Population, list[Event]],
                                                 bodies: list[str]) -> None:
    pop, _ = world
    bus = MemoryBus(1)
    bus.publish([Message("billing", "A000000", b) for b in bodies])
    store = MemoryLedgerStore()
    handled = Worker(store, app_of(pop), bus, name="w1", batch_size=25,
                     poll_timeout=0.01).run(idle_exit=0.05)
    assert handled == len(bodies)
    assert bus.backlog() == 0
    dead = store.dead_letters()
    # accepted + rejected = submitted: claims are the accepted, dead letters the rejected
    # (one dead letter per id and payload: equal bodies share one)
    assert store.claim_count() + len(dead) <= len(bodies)
    assert bool(dead) or store.claim_count() == len(bodies) or len(set(bodies)) < len(bodies)


def test_redis_bus_carries_a_body_with_invalid_text_to_the_dead_letters(
        require_service: Callable[[str], None]) -> None:
    import redis

    from telcoflow.bus.redis_streams import RedisStreamBus

    with redis_prefix(require_service) as prefix:
        bus = RedisStreamBus(REDIS_URL, prefix=prefix, partitions=1)
        raw = redis.Redis.from_url(REDIS_URL)
        try:
            bus.publish([Message("billing", "A000000", '["usage","ok"]')])
            # a producer outside telcoflow wrote bytes that are not UTF-8 into the stream
            raw.xadd(bus.stream(0), {"k": "billing", "key": "A000000", "b": b"\xff\xfe["})
            pop = generate_population(5, seed=3)
            store = MemoryLedgerStore()
            worker = Worker(store, app_of(pop), bus, name="w-poison", batch_size=10)
            assert worker.run(idle_exit=1.0) == 2
            assert bus.backlog() == 0
            assert {d.reason for d in store.dead_letters()} == {"undecodable"}
            assert len(store.dead_letters()) == 2
        finally:
            raw.close()
            bus.close()
