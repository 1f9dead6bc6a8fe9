"""Decisions: hit policies, decision-table cells, defaults, guards and the rule index."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.rules.engine import DecisionError
from telcoflow.rules.pack import RulePack, pack_from_text


def pack(body: str) -> RulePack:
    return pack_from_text("kind: rule-pack\nname: t\ncontext: [e]\n" + body, "t.rules.yaml")


RULES = """
decisions:
  - name: d
    kind: generic
    hit: {hit}
    {extra}
    rules:
      - {{id: low,  priority: 1, if: e.x >= 1, then: {{v: 1, n: a}}}}
      - {{id: mid,  priority: 5, if: e.x >= 2, then: {{v: 2, n: b}}}}
      - {{id: high, priority: 3, if: e.x >= 3, then: {{v: 3, n: c}}}}
"""


def decide(hit: str, x: int, extra: str = "") -> Any:
    return pack(RULES.format(hit=hit, extra=extra)).evaluate({"e": {"x": x}})["d"]


def test_first_takes_the_first_in_order() -> None:
    assert decide("first", 3)["v"] == 1
    assert decide("first", 0) is None


def test_priority_takes_the_highest_priority() -> None:
    assert decide("priority", 3)["v"] == 2   # priorities 1, 5, 3: mid wins
    assert decide("priority", 1)["v"] == 1


def test_unique_refuses_two_matches() -> None:
    assert decide("unique", 1)["n"] == "a"
    with pytest.raises(DecisionError, match="hit policy unique but 3 rules matched: low, mid"):
        decide("unique", 3)


def test_any_requires_agreement() -> None:
    p = pack("""
decisions:
  - name: d
    hit: any
    rules:
      - {id: a, if: e.x > 0, then: {v: 1}}
      - {id: b, if: e.x > 1, then: {v: 1}}
      - {id: c, if: e.x > 2, then: {v: 2}}
""")
    assert p.evaluate({"e": {"x": 2}})["d"] == {"v": 1}
    with pytest.raises(DecisionError, match="disagree"):
        p.evaluate({"e": {"x": 3}})


def test_collect_and_aggregates() -> None:
    assert [o["v"] for o in decide("collect", 3)] == [1, 2, 3]
    assert decide("rule-order", 2) == [{"v": 1, "n": "a"}, {"v": 2, "n": "b"}]
    assert decide("collect", 3, "aggregate: sum\n    output: v") == Decimal(6)   # 1 + 2 + 3
    assert decide("collect", 3, "aggregate: min\n    output: v") == 1
    assert decide("collect", 3, "aggregate: max\n    output: v") == 3
    assert decide("collect", 2, "aggregate: count") == 2
    assert decide("collect", 0, "aggregate: sum\n    output: v") == 0
    assert decide("collect", 0) == []


def test_table_cells() -> None:
    p = pack("""
decisions:
  - name: t
    hit: collect
    table:
      inputs: [e.s, e.n]
      outputs: [row]
      rows:
        - [data, "-", any-number]
        - ["-", "[0..10)", zero-to-ten]
        - ["-", "(10..20]", over-ten-to-twenty]
        - ["-", "> 100", big]
        - ["-", "!= 5", not-five]
        - [[voice, sms], "-", voice-or-sms]
        - ['not("data", "voice")', "-", neither]
        - ["-", "? % 2 == 0", even]
        - ["-", 7, seven]
""")

    def rows(s: str, n: int) -> list[str]:
        return [o["row"] for o in p.evaluate({"e": {"s": s, "n": n}})["t"]]

    assert rows("data", 10) == ["any-number", "not-five", "even"]
    assert rows("sms", 0) == ["zero-to-ten", "not-five", "voice-or-sms", "neither", "even"]
    assert rows("voice", 20) == ["over-ten-to-twenty", "not-five", "voice-or-sms", "even"]
    assert rows("x", 5) == ["zero-to-ten", "neither"]
    assert rows("x", 7) == ["zero-to-ten", "not-five", "neither", "seven"]
    assert rows("x", 101) == ["big", "not-five", "neither"]


def test_defaults_guards_computed_outputs_and_chaining() -> None:
    p = pack("""
let:
  double: e.x * 2
decisions:
  - name: first
    when: e.x > 0
    rules:
      - {id: r, if: double > 4, then: {v: "= double + 1", label: big}}
    default: {v: 0, label: small}
  - name: second
    rules:
      - {id: uses-first, if: first is not None and first.label == "big", then: {ok: true}}
    default: {ok: false}
""")
    assert p.evaluate({"e": {"x": 3}}) == {"first": {"v": 7, "label": "big"},   # 3 * 2 + 1
                                          "second": {"ok": True}}
    assert p.evaluate({"e": {"x": 1}})["first"] == {"v": 0, "label": "small"}
    assert p.evaluate({"e": {"x": -1}}) == {"first": None, "second": {"ok": False}}


def test_outputs_are_read_only() -> None:
    out = decide("first", 1)
    with pytest.raises(TypeError):
        out["v"] = 9


def test_index_prunes_candidates() -> None:
    rows = "\n".join(f"        - [s{i % 10}, z{i // 10}, r{i}]" for i in range(200))
    p = pack(f"""
decisions:
  - name: t
    table:
      inputs: [e.s, e.z]
      outputs: [row]
      rows:
{rows}
""")
    trace = p.explain({"e": {"s": "s3", "z": "z7"}})
    d = trace.decisions[0]
    assert d.value == {"row": "r73"}         # i = 73: s = 73 % 10, z = 73 // 10
    assert d.total == 200
    assert d.tested <= 4                      # the index leaves a handful of candidates
    assert p.decision("t").index.depth() >= 1


_VALUES = st.sampled_from(["a", "b", "c", 1, 2])


@st.composite
def _rules(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(1, 30))):
        when = {}
        for path in ("e.p", "e.q", "e.r"):
            choice = draw(st.integers(0, 3))
            if choice == 1:
                when[path] = draw(_VALUES)
            elif choice == 2:
                when[path] = draw(st.lists(_VALUES, min_size=1, max_size=3, unique=True))
        extra = draw(st.sampled_from([None, "e.n > 2", "e.n % 2 == 0"]))
        out.append({"id": f"r{i}", "when": when, "if": extra, "priority": draw(st.integers(0, 3))})
    return out


def _yaml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


@settings(max_examples=60, deadline=None)
@given(_rules(), st.sampled_from(["first", "priority", "collect"]),
       st.lists(st.fixed_dictionaries({"p": _VALUES, "q": _VALUES, "r": _VALUES,
                                       "n": st.integers(0, 5)}), min_size=1, max_size=8))
def test_index_never_changes_the_answer(rules: list[dict[str, Any]], hit: str,
                                        events: list[dict[str, Any]]) -> None:
    """The indexed evaluation equals testing every rule in order (brute force)."""
    lines = []
    for r in rules:
        body = {"id": r["id"], "priority": r["priority"], "then": {"id": r["id"]}}
        if r["when"]:
            body["when"] = r["when"]
        text = _yaml(body)
        if r["if"]:
            text = text[:-1] + f", if: '{r['if']}'}}"
        lines.append(f"      - {text}")
    p = pack(f"decisions:\n  - name: d\n    hit: {hit}\n    rules:\n" + "\n".join(lines))
    decision = p.decision("d")
    for e in events:
        ctx = {"e": e}
        matched = [it.id for it in decision.items if it.cond is None or it.cond(ctx)]
        value = p.evaluate(ctx)["d"]
        if hit == "collect":
            assert [o["id"] for o in value] == matched
        else:
            assert (value["id"] if value else None) == (matched[0] if matched else None)
