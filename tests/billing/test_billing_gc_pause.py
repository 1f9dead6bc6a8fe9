"""The cyclic garbage collector is paused during a batch (when the pipeline opts in) and always
resumed after it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from billing_world import FEES, data, tariffs, world

from telcoflow.billing.batch import Batch
from telcoflow.billing.gc_pause import gc_paused
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.stores.memory import MemoryLedgerStore


@pytest.fixture(autouse=True)
def _gc_enabled() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_resumed_after_nested_pauses() -> None:
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_host_stays_off() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_resumed_when_the_block_raises() -> None:
    with pytest.raises(ZeroDivisionError), gc_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_resume_once_the_last_ends() -> None:
    inside = threading.Barrier(2)
    first_out = threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with gc_paused():
            inside.wait()
        first_out.set()

    def second() -> None:
        with gc_paused():
            inside.wait()
            first_out.wait(5)
            seen.append(gc.isenabled())  # the first thread left: still paused for us

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert seen == [False]
    assert gc.isenabled()


def _watched(states: list[bool], **kwargs: bool) -> RealtimeBilling:
    graph = default_graph(world(), tariffs(), fees=FEES)
    graph.before("rate", lambda **_: states.append(gc.isenabled()))
    return RealtimeBilling(graph=graph, store=MemoryLedgerStore(), **kwargs)


def test_an_opted_in_pipeline_pauses_during_a_batch_only() -> None:
    states: list[bool] = []
    result = _watched(states, pause_gc=True).process([data("e1", "s-post", "post", 10)])
    assert result.accepted == 1
    assert states == [False]
    assert gc.isenabled()


def test_the_pause_is_off_by_default() -> None:
    states: list[bool] = []
    billing = _watched(states)
    assert billing.pause_gc is False
    billing.process([data("e1", "s-post", "post", 10)])
    assert states == [True]  # the host's collector ran on during the batch


def test_a_failing_step_leaves_the_collector_on() -> None:
    def boom(batch: Batch) -> None:
        raise RuntimeError("host step failed")

    graph = default_graph(world(), tariffs())
    graph.add(_Boom(boom))
    billing = RealtimeBilling(graph=graph, store=MemoryLedgerStore(), pause_gc=True)
    with pytest.raises(RuntimeError, match="host step failed"):
        billing.process([data("e1", "s-post", "post", 10)])
    assert gc.isenabled()


class _Boom:
    name = "boom"
    needs = ("rated",)
    provides = ("boomed",)

    def __init__(self, fn: object) -> None:
        self.fn = fn

    def __call__(self, batch: Batch) -> None:
        self.fn(batch)  # type: ignore[operator]
