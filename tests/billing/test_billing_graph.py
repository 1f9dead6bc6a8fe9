"""The process graph: checks at build time, plan order, add / replace / remove, hooks."""

from __future__ import annotations

from typing import Any

import pytest
from billing_world import data, tariffs, world

from telcoflow.billing.batch import Batch
from telcoflow.billing.graph import GraphBuilder
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.billing.transaction import LedgerTransaction
from telcoflow.errors import GraphError
from telcoflow.stores.memory import MemoryLedgerStore


class Fake:
    def __init__(self, name: str, needs: tuple[str, ...], provides: tuple[str, ...]) -> None:
        self.name, self.needs, self.provides = name, needs, provides
        self.calls = 0

    def __call__(self, batch: Batch) -> None:
        self.calls += 1


def test_default_graph_runs_in_the_documented_order() -> None:
    graph = default_graph(world(), tariffs()).build()
    assert graph.order == ["validate", "deduplicate", "enrich", "rate", "ledger", "discount",
                           "tax", "split", "credit_control", "emit"]


def test_order_follows_needs_not_insertion() -> None:
    graph = GraphBuilder([Fake("b", ("x",), ("y",)), Fake("a", ("events",), ("x",))]).build()
    assert graph.order == ["a", "b"]


def test_every_problem_is_reported_at_once_naming_the_steps() -> None:
    builder = GraphBuilder([
        Fake("a", ("events", "z"), ("x",)),
        Fake("b", ("x",), ("z",)),          # a <-> b cycle
        Fake("c", ("nothing",), ("x",)),    # missing input, and a second provider of x
    ])
    with pytest.raises(GraphError) as info:
        builder.build()
    codes = sorted(p.code for p in info.value.problems)
    assert codes == ["E-graph-cycle", "E-graph-missing-input", "E-graph-two-providers"]
    text = str(info.value)
    assert "steps 'a' and 'c' both provide 'x'" in text
    assert "step 'c' needs 'nothing'" in text
    assert "cycle between steps" in text
    assert "cycle between steps 'a' -> 'b' -> 'a'" in text


def test_duplicate_and_unknown_step_names() -> None:
    builder = GraphBuilder([Fake("a", ("events",), ("x",))])
    with pytest.raises(GraphError, match="already exists"):
        builder.add(Fake("a", ("events",), ("y",)))
    with pytest.raises(GraphError, match="no step named 'zz'"):
        builder.remove("zz")
    with pytest.raises(GraphError, match="no step named 'zz'"):
        builder.before("zz", lambda **kw: None)


def test_replace_remove_and_add_a_host_step() -> None:
    builder = default_graph(world(), tariffs())
    audit = Fake("audit", ("rated",), ("audited",))
    builder.add(audit)
    builder.remove("discount")
    with pytest.raises(GraphError, match="step 'tax' needs 'discounted'"):
        builder.build()
    builder.replace("tax", Fake("tax", ("posted",), ("taxed",)))
    graph = builder.build()
    assert "discount" not in graph.order
    assert graph.order.index("audit") > graph.order.index("rate")
    billing = RealtimeBilling(MemoryLedgerStore(), graph)
    billing.process([data("e1", "s-post", "post", 10)])
    assert audit.calls == 1


def test_hooks_get_keyword_arguments_and_may_ignore_future_ones() -> None:
    seen: list[tuple[str, str]] = []

    def before(*, step: str, batch: Batch, **future_kwargs: Any) -> None:
        seen.append(("before", step))

    def after(*, step: str, batch: Batch, elapsed: float, **future_kwargs: Any) -> None:
        assert elapsed >= 0
        seen.append(("after", step))

    builder = default_graph(world(), tariffs()).before("rate", before).after("*", after)
    graph = builder.build()
    batch = Batch([data("e1", "s-post", "post", 1)], LedgerTransaction(MemoryLedgerStore()))
    graph.run(batch)
    assert ("before", "rate") in seen
    assert [s for kind, s in seen if kind == "after"] == graph.order
    assert seen.index(("before", "rate")) < seen.index(("after", "rate"))


def test_built_graph_is_frozen_and_can_be_derived() -> None:
    builder = default_graph(world(), tariffs())
    graph = builder.build()
    builder.remove("emit")  # changing the builder later does not touch the built graph
    assert graph.order[-1] == "emit"
    derived = graph.builder().remove("emit").build()
    assert "emit" not in derived.order
    assert graph.describe()[0] == {"name": "validate", "needs": ["events"],
                                   "provides": ["valid"]}
