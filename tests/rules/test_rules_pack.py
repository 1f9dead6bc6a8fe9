"""Rule packs: loading with located problems, folder packs, explain, registry and plugins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from telcoflow.errors import RuleError
from telcoflow.rules import (
    Registry,
    RuleKind,
    RulePackModel,
    default_registry,
    explain,
    load_pack,
    pack_from_text,
    register_builtins,
)
from telcoflow.rules import registry as registry_module

BAD = """\
kind: rule-pack
name: demo
context: [event]
decisions:
  - name: tariff
    kind: rating
    rules:
      - id: a
        if: event.zone == "home" and zon == 1
        then: {tariff: x}
      - id: b
        when: {event.service: data}
        then: {foo: 1}
      - id: c
        if: |
          event.x >
            foo(1)
        then: {tariff: "= event.y ** 2"}
      - id: a
        then: {tariff: y}
  - name: other
    kind: nonsense
    rules: [{id: r, then: {}}]
"""


def test_every_problem_located() -> None:
    with pytest.raises(RuleError) as info:
        pack_from_text(BAD, "demo.rules.yaml")
    found = [(p.line, p.column, p.code) for p in info.value.problems]
    assert (9, 38, "E-expr-name") in found         # `zon`: column 13 + 25 characters
    assert (13, 9, "E-rule-outputs") in found      # rating rule without tariff/price
    assert (17, 13, "E-expr-function") in found    # foo( on the block's second line
    assert (18, 27, "E-expr-syntax") in found      # ** after the "= " of the output
    assert (19, 9, "E-rule-duplicate") in found
    assert (22, 5, "E-rule-kind") in found
    text = str(info.value)
    assert "demo.rules.yaml:9:38 ($.decisions[0].rules[0].if): unknown name 'zon'" in text


def test_schema_errors_are_located() -> None:
    with pytest.raises(RuleError) as info:
        pack_from_text("kind: rule-pack\nname: x\ndecisions:\n  - name: d\n    tabel: 1\n",
                       "x.rules.yaml")
    problem = info.value.problems[0]
    assert (problem.line, problem.column, problem.code) == (5, 5, "E-extra_forbidden")


def test_yaml_keeps_on_off_as_text_and_decimals_exact() -> None:
    p = pack_from_text("""
kind: rule-pack
name: x
decisions:
  - name: d
    table:
      inputs: [e.switch]
      outputs: [price]
      rows:
        - ["on", 0.10]
        - ["off", 0.20]
""")
    assert str(p.evaluate({"e": {"switch": "off"}})["d"]["price"]) == "0.20"


def test_folder_pack_and_digest(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text("kind: rule-pack\nname: folder\nversion: '3'\n")
    (tmp_path / "b.yaml").write_text("""kind: rule-pack-part
decisions:
  - {name: d, rules: [{id: r, if: e.x > 1, then: {v: big}}], default: {v: small}}
tests:
  - {name: big, context: {e: {x: 2}}, expect: {d.v: big}}
""")
    p = load_pack(tmp_path)
    assert (p.name, p.version) == ("folder", "3")
    assert p.evaluate({"e": {"x": 2}}) == {"d": {"v": "big"}}
    assert p.tests[0].file.endswith("b.yaml")
    assert p.tests[0].line == 5
    digest = p.digest
    (tmp_path / "b.yaml").write_text((tmp_path / "b.yaml").read_text().replace("big}", "BIG}"))
    assert load_pack(tmp_path).digest != digest


def test_folder_needs_pack_yaml(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match=r"needs a pack.yaml"):
        load_pack(tmp_path)


def test_explain_trace_and_rendering() -> None:
    p = load_pack("rules/rating")
    trace = explain(p, {"event": {"service": "voice", "zone": "home",
                                  "time": "2026-11-27T21:30:00"}})
    assert trace.matched() == ["tariff/row 7"]
    assert (trace.pack, trace.version) == ("nova5g-rating", "2026.11")
    assert trace.lets["band"] == "offpeak"
    match = trace.decisions[0].matches[0]
    # row 7 is [voice, -, offpeak, -, -]: it reads the service and the band only
    assert match.seen == {"event.service": "voice", "band": "offpeak"}
    text = trace.render()
    assert "pack nova5g-rating version 2026.11" in text
    assert "let band = 'offpeak'" in text
    assert "- row 7: {tariff: 'voice', rate: 'offpeak'}" in text
    assert "saw band = 'offpeak'" in text
    assert json.loads(json.dumps(trace.to_dict()))["decisions"][0]["value"]["rate"] == "offpeak"


def test_explain_accepts_a_path() -> None:
    trace = explain("rules/credit-control.rules.yaml",
                    {"account": {"type": "postpaid", "used": 40, "credit_limit": 50}})
    assert trace.values["status"] == {"status": "warning"}     # 40 / 50 = 80 %


def test_json_schema_from_the_models() -> None:
    schema = RulePackModel.model_json_schema()
    assert schema["properties"]["kind"]["const"] == "rule-pack"
    assert "decisions" in schema["properties"]


# -- registry and plugins ---------------------------------------------------------------------


def test_builtins_come_through_the_registry() -> None:
    reg = default_registry()
    assert "in_band" in reg.functions
    assert {"rating", "discount", "credit-control", "audit"} <= set(reg.kinds)
    with pytest.raises(RuleError, match="frozen"):
        reg.add_function("x", len)


def test_custom_function_and_kind_for_one_pack() -> None:
    reg = default_registry().copy()
    reg.add_function("vat", lambda amount: amount * 2)
    reg.add_rule_kind(RuleKind("loyalty", required=("points",)))
    p = pack_from_text("""
kind: rule-pack
name: x
decisions:
  - {name: d, kind: loyalty, rules: [{id: r, then: {points: "= vat(e.n)"}}]}
""", registry=reg)
    assert p.evaluate({"e": {"n": 21}}) == {"d": {"points": 42}}
    with pytest.raises(RuleError, match="a loyalty rule must give points"):
        pack_from_text("kind: rule-pack\nname: x\ndecisions:\n"
                       "  - {name: d, kind: loyalty, rules: [{id: r, then: {}}]}\n",
                       registry=reg)


@pytest.mark.parametrize(("name", "fn", "message"), [
    ("Bad-Name", len, "lower-case identifier"),
    ("has", len, "reserved"),
    ("_x", len, "lower-case identifier"),
    ("in_band", len, "already registered"),
    ("ok", 42, "must be callable"),
])
def test_function_registration_is_validated(name: str, fn: Any, message: str) -> None:
    reg = Registry()
    register_builtins(reg)
    with pytest.raises(RuleError, match=message):
        reg.add_function(name, fn)


def test_kind_registration_is_validated() -> None:
    reg = Registry()
    with pytest.raises(RuleError, match="default_hit"):
        reg.add_rule_kind(RuleKind("k", default_hit="sometimes"))
    with pytest.raises(RuleError, match="are not allowed"):
        reg.add_rule_kind(RuleKind("k", required=("a",), allowed=("b",)))


class _EntryPoint:
    def __init__(self, name: str, value: str, obj: Any) -> None:
        self.name, self.value, self._obj = name, value, obj

    def load(self) -> Any:
        if isinstance(self._obj, Exception):
            raise self._obj
        return self._obj


def test_entry_point_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    def plugin(registry: Registry, **future: Any) -> None:
        registry.add_function("triple", lambda x: x * 3)

    eps = [_EntryPoint("mine", "my_pkg:plugin", plugin),
           _EntryPoint("builtin", "telcoflow.rules.registry:register_builtins",
                       register_builtins)]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: eps)
    reg = Registry()
    register_builtins(reg)
    assert reg.load_entry_points() == ["mine"]       # the built-ins are not loaded twice
    assert reg.functions["triple"](2) == 6


def test_broken_plugins_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def bad(registry: Registry) -> None:
        raise ValueError("boom")

    reg = Registry()
    with pytest.raises(RuleError, match=r"plugin bad \(p:bad\) failed while registering"):
        reg.load_plugin(bad, origin="bad (p:bad)")
    monkeypatch.setattr(registry_module, "entry_points",
                        lambda group: [_EntryPoint("gone", "gone:x", ImportError("nope"))])
    with pytest.raises(RuleError, match=r"plugin gone \(gone:x\) cannot be imported"):
        reg.load_entry_points()


def test_validate_pack_files_for_telcoflow_validate(tmp_path: Path) -> None:
    from telcoflow.rules.packs import validate_pack_files

    packs = validate_pack_files([Path("rules/rating/pack.yaml"), Path("rules/rating/tests.yaml"),
                                 Path("rules/credit-control.rules.yaml")])
    assert [p.name for p in packs] == ["nova5g-rating", "nova5g-credit-control"]
    bad = tmp_path / "bad.rules.yaml"
    bad.write_text("kind: rule-pack\nname: bad\ndecisions: [{name: d, rules: [{id: r, "
                   "if: 'a ** 2'}]}]\n")
    with pytest.raises(RuleError) as info:
        validate_pack_files([bad])
    assert info.value.problems[0].file == str(bad)
