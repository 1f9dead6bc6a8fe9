"""Stateful rules on both backends (durable-rules, isolated, where installed), and hot reload."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.errors import RuleError
from telcoflow.rules import (
    Registry,
    RuleHost,
    StatefulEngine,
    default_registry,
    load_pack,
    pack_from_text,
)
from telcoflow.rules.isolated import IsolatedDurableBackend
from telcoflow.rules.pack import RulePack

BACKENDS = ["python", pytest.param("durable", marks=pytest.mark.durable_rules)]

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)

PACK = """
kind: rule-pack
name: st
context: [event]
stateful:
  - {id: burst, key: event.sub, match: event.type == "topup", count: 3, within: 1h,
     then: {alert: burst, who: "= key"}}
  - {id: usage-80, key: event.pass_id, match: event.type == "usage", total: event.mb,
     reach: event.pass_mb * 0.8, then: {alert: usage-80}}
  - {id: fail-ok, key: event.sub,
     sequence: ['event.type == "fail"', 'event.type == "ok"'], within: 10m,
     then: {alert: recovered}}
"""


def event(minutes: float, **fields: Any) -> dict[str, Any]:
    return {"event": {"time": (T0 + timedelta(minutes=minutes)).isoformat(), **fields}}


@pytest.fixture(scope="module")
def stateful_pack() -> RulePack:
    return pack_from_text(PACK, "st.rules.yaml")


@pytest.mark.parametrize("backend", BACKENDS)
def test_count_within_window(stateful_pack: RulePack, backend: str) -> None:
    engine = StatefulEngine(stateful_pack, backend)
    fired = [f for m in (0, 30, 59) for f in engine.process(event(m, type="topup", sub="a"))]
    assert [(f.rule, f.key, dict(f.outputs)) for f in fired] == \
        [("burst", "a", {"alert": "burst", "who": "a"})]
    # 61 minutes between the first and the third: no burst
    fired = [f for m in (100, 140, 161) for f in engine.process(event(m, type="topup", sub="b"))]
    assert fired == []
    assert engine.backend.live_keys() == 1          # a finished and was deleted; b waits
    engine.close()
    assert engine.backend.live_keys() == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_total_and_sequence(stateful_pack: RulePack, backend: str) -> None:
    engine = StatefulEngine(stateful_pack, backend)
    got = []
    # pass of 1000 MB: 80 % = 800; 300 + 300 = 600, + 250 = 850 -> fires on the third
    for m, mb in ((0, 300), (1, 300), (2, 250), (3, 100)):
        got += [f.rule for f in engine.process(event(m, type="usage", pass_id="p", mb=mb,
                                                     pass_mb=1000))]
    # fail at 10, ok at 25 (15 min: too late); fail at 26, ok at 30 -> recovered
    for m, kind in ((10, "fail"), (25, "ok"), (26, "fail"), (30, "ok")):
        got += [f.rule for f in engine.process(event(m, type=kind, sub="s"))]
    assert got == ["usage-80", "fail-ok"]
    engine.close()


_STREAM = st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["a", "b"]),
                             st.sampled_from(["topup", "fail", "ok", "usage"]),
                             st.integers(0, 500)), max_size=25)


@pytest.mark.durable_rules
@settings(max_examples=25, deadline=None)
@given(_STREAM)
def test_backends_agree(stream: list[tuple[int, str, str, int]]) -> None:
    """Any time-ordered stream fires the same rules, in the same order, on both backends."""
    pack = pack_from_text(PACK, "st.rules.yaml")
    results = []
    for backend in ("python", "durable"):
        engine = StatefulEngine(pack, backend)
        minute, fired = 0, []
        for gap, sub, kind, mb in stream:
            minute += gap
            ev = event(minute, type=kind, sub=sub, pass_id=sub, mb=mb, pass_mb=1000)
            fired += [(f.rule, f.key) for f in engine.process(ev)]
        engine.close()
        results.append(fired)
    assert results[0] == results[1]


@pytest.mark.durable_rules
def test_durable_limits_are_hidden(stateful_pack: RulePack) -> None:
    # more live sessions than durable-rules allows per ruleset (1,024): sharded
    engine = StatefulEngine(stateful_pack, "durable")
    backend = engine.backend
    assert isinstance(backend, IsolatedDurableBackend)
    for i in range(1100):
        engine.process(event(0, type="topup", sub=f"k{i}"))
    assert backend.live_keys() == 1100
    assert backend.shard_count("burst") >= 2
    engine.close()
    assert backend.live_keys() == 0


@pytest.mark.durable_rules
def test_durable_idle_sessions_are_recycled() -> None:
    pack = pack_from_text("""
kind: rule-pack
name: recycle
stateful:
  - {id: recycle-test, key: event.sub, match: event.type == "topup", count: 3, within: 1h}
""")
    engine = StatefulEngine(pack, IsolatedDurableBackend(max_sessions=3))
    backend = engine.backend
    assert isinstance(backend, IsolatedDurableBackend)
    assert backend.shard_count("recycle-test") == 1
    for i in range(3):
        engine.process(event(0, type="topup", sub=f"old{i}"))
    # two hours later the old keys are idle longer than the window: their slots are reused
    for i in range(3):
        engine.process(event(120, type="topup", sub=f"new{i}"))
    assert backend.shard_count("recycle-test") == 1
    assert backend.live_keys() == 3
    engine.process(event(121, type="topup", sub="one-more"))   # all 3 slots are live: shard
    assert backend.shard_count("recycle-test") == 2
    engine.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_match_and_many_rules_on_one_event(backend: str) -> None:
    rules = "\n".join(f"  - {{id: r{i}, key: e.k, time: e.t, match: e.x > 0, count: 2, "
                      f"within: 1h}}" for i in range(80))
    pack = pack_from_text("kind: rule-pack\nname: many\nstateful:\n" + rules)
    engine = StatefulEngine(pack, backend)
    assert engine.process({"e": {"k": "a", "t": "2026-11-27T12:00:00Z", "x": 0}}) == []
    assert engine.process({"e": {"k": "a", "t": "2026-11-27T12:00:00Z", "x": 1}}) == []
    # 80 rules fire on one event (durable-rules alone stops at 64 matches per event)
    assert len(engine.process({"e": {"k": "a", "t": "2026-11-27T12:01:00Z", "x": 1}})) == 80
    engine.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_sid_is_just_a_field(backend: str) -> None:
    pack = pack_from_text("""
kind: rule-pack
name: sid
stateful:
  - {id: s, key: e.sid, time: e.t, match: e.sid == "x", count: 2, within: 1h}
""")
    engine = StatefulEngine(pack, backend)
    fired = [f for m in (0, 1) for f in engine.process(
        {"e": {"sid": "x", "t": (T0 + timedelta(minutes=m)).isoformat()}})]
    assert [f.key for f in fired] == ["x"]
    engine.close()


def test_stateful_definition_errors() -> None:
    with pytest.raises(RuleError) as info:
        pack_from_text("""
kind: rule-pack
name: bad
stateful:
  - {id: a, key: e.k, count: 3, within: 1h}
  - {id: b, key: e.k, match: e.x, count: 3, sequence: [e.a, e.b], within: 1h}
  - {id: c, key: e.k, match: e.x, count: 3}
  - {id: d, key: e.k, match: e.x, total: e.v}
""")
    messages = [p.message for p in info.value.problems]
    assert "a `count` rule needs `match`" in messages
    assert any("exactly one of count, sequence, total" in m for m in messages)
    assert any("needs `within`" in m for m in messages)
    assert "a `total` rule needs `reach`" in messages


# -- hot reload -------------------------------------------------------------------------------

V1 = """kind: rule-pack
name: hot
version: "{v}"
decisions:
  - name: d
    rules: [{{id: r, if: "wait(e.x)", then: {{price: {price}}}}}]
stateful:
  - {{id: burst, key: e.k, time: e.t, match: 'get(e.k, null) == "a"', count: 2, within: 1h}}
"""


def test_hot_reload_is_atomic_and_in_flight_finishes_on_its_version(tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()

    def wait(x: Any) -> bool:
        if x == "block":
            started.set()
            release.wait(5)
        return True

    reg: Registry = default_registry().copy()
    reg.add_function("wait", wait)
    path = tmp_path / "hot.rules.yaml"
    path.write_text(V1.format(v="1", price="0.10"))
    host = RuleHost(path, registry=reg)
    results: list[Any] = []
    t = threading.Thread(target=lambda: results.append(host.evaluate({"e": {"x": "block"}})))
    t.start()
    assert started.wait(5)
    path.write_text(V1.format(v="2", price="0.20"))
    host.reload()                                     # lands while the evaluation is in flight
    after = host.evaluate({"e": {"x": 1}})
    release.set()
    t.join(5)
    in_flight = results[0]
    assert (in_flight.version, str(in_flight.values["d"]["price"])) == ("1", "0.10")
    assert (after.version, str(after.values["d"]["price"])) == ("2", "0.20")
    assert in_flight.digest != after.digest
    assert [v for v, _ in host.history] == ["1", "2"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_reload_keeps_old_version_on_error_and_keeps_state(tmp_path: Path, backend: str) -> None:
    reg = default_registry().copy()
    reg.add_function("wait", lambda x: True)
    path = tmp_path / "hot.rules.yaml"
    path.write_text(V1.format(v="1", price="0.10"))
    host = RuleHost(path, registry=reg, stateful_backend=backend)
    first = host.evaluate({"e": {"x": 1, "k": "a", "t": "2026-11-27T12:00:00Z"}})
    assert first.fired == ()
    path.write_text("kind: rule-pack\nname: hot\ndecisions: [{name: d, rules: [{id: r, "
                    "if: 'e.x ** 2', then: {}}]}]\n")
    with pytest.raises(RuleError, match=r"\*\*"):
        host.reload()
    assert host.pack.version == "1"
    # same stateful rules in version 2: the window started under version 1 carries over
    path.write_text(V1.format(v="2", price="0.30"))
    host.reload()
    second = host.evaluate({"e": {"x": 1, "k": "a", "t": "2026-11-27T12:10:00Z"}})
    assert [f.rule for f in second.fired] == ["burst"]
    assert second.version == "2"


def test_shipped_stateful_pack_loads() -> None:
    pack = load_pack("rules/topups")
    assert [r.id for r in pack.stateful] == ["topup-burst", "slice-pass-80",
                                              "payment-recovered"]
