"""DMN XML import and export: a file written here, the round trip (import, export, import:
same decisions, same results; hypothesis over inputs), unsupported elements listed with
their lines, hostile XML refused, and the `telcoflow rules` commands."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.cli import main
from telcoflow.errors import DmnError
from telcoflow.rules.dmn import dump_pack_yaml, export_dmn, import_dmn
from telcoflow.rules.pack import RulePack, pack_from_text
from telcoflow.rules.values import Violation

NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def _rule(inputs: list[str], outputs: list[str]) -> str:
    cells = "".join(f"<inputEntry><text>{c}</text></inputEntry>" for c in inputs)
    cells += "".join(f"<outputEntry><text>{c}</text></outputEntry>" for c in outputs)
    return f"<rule>{cells}</rule>"


def _table(did: str, name: str, hit: str, inputs: list[tuple[str, str]],
           outputs: list[tuple[str, str]], rules: list[str], extra: str = "") -> str:
    ins = "".join(f'<input label="{label}"><inputExpression typeRef="number"><text>{expr}'
                  f"</text></inputExpression></input>" for expr, label in inputs)
    outs = "".join(f'<output name="{n}">{values}</output>' for n, values in outputs)
    return (f'<decision id="{did}" name="{name}">{extra}<decisionTable {hit}>{ins}{outs}'
            f"{''.join(rules)}</decisionTable></decision>")


PRIO = '<outputValues><text>"high","medium","low"</text></outputValues>'
RANGES = [_rule(["&lt; 25"], ['"low"']), _rule(["[18..30]"], ['"high"']),
          _rule(["&gt; 20"], ['"medium"']), _rule(["&gt;= 60"], ['"low"'])]
DMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{NS}" id="defs" name="Risk and fees">
  {_table("risk_u", "Risk (unique)", 'hitPolicy="UNIQUE"', [("age", "Applicant Age")],
          [("risk", PRIO)], RANGES)}
  {_table("risk_a", "Risk (any)", 'hitPolicy="ANY"', [("age", "Age")], [("risk", PRIO)],
          RANGES)}
  {_table("risk_p", "Risk (priority)", 'hitPolicy="PRIORITY"', [("age", "Age")],
          [("risk", PRIO)], RANGES)}
  {_table("risk_f", "Risk (first)", 'hitPolicy="FIRST"', [("age", "Age")], [("risk", "")],
          RANGES)}
  {_table("risk_r", "Risk (rule order)", 'hitPolicy="RULE ORDER"', [("age", "Age")],
          [("risk", "")], RANGES)}
  {_table("risk_o", "Risk (output order)", 'hitPolicy="OUTPUT ORDER"', [("age", "Age")],
          [("risk", PRIO)], RANGES)}
  {_table("risk_c", "Risk (collect)", 'hitPolicy="COLLECT"', [("age", "Age")],
          [("risk", "")], RANGES)}
  {_table("fee_sum", "Fee", 'hitPolicy="COLLECT" aggregation="SUM"',
          [("plan", "Plan"), ("roaming", "Roaming")], [("fee", "")],
          [_rule(['"gold"', "-"], ["10"]), _rule(["-", "true"], ["5"]),
           _rule(['"gold", "silver"', "true"], ["5"]), _rule(['not("gold")', "false"], ["2.50"])])}
  {_table("fee_min", "Fee min", 'hitPolicy="COLLECT" aggregation="MIN"', [("age", "Age")],
          [("fee", "")], [_rule(["(0..10]"], ["1"]), _rule(["]5..20["], ["2"])])}
  {_table("fee_max", "Fee max", 'hitPolicy="COLLECT" aggregation="MAX"', [("age", "Age")],
          [("fee", "")], [_rule(["(0..10]"], ["1"]), _rule(["]5..20["], ["2"])])}
  {_table("fee_count", "Fee count", 'hitPolicy="COLLECT" aggregation="COUNT"',
          [("age", "Age")], [("fee", "")],
          [_rule(["(0..10]"], ["1"]), _rule(["]5..20["], ["1"]), _rule(["-"], ["3"])])}
  {_table("segment", "Segment", 'hitPolicy="FIRST"', [("age", "Age"), ("plan", "Plan")],
          [("Segment Name", ""), ("score", "")],
          [_rule(["null", "-"], ['"unknown"', "0"]),
           _rule(["&lt;= limit", '"gold"'], ['"young gold"', "1.5"]),
           _rule(["-", '"&lt; 5"'], ['"odd plan"', "2"]),
           _rule(["-", "-"], ['"other"', "null"])])}
</definitions>
"""
NAMES = ["risk_u", "risk_a", "risk_p", "risk_f", "risk_r", "risk_o", "risk_c", "fee_sum",
         "fee_min", "fee_max", "fee_count", "segment"]


def _load(text: str) -> tuple[RulePack, dict[str, Any]]:
    data = import_dmn(text, "risk.dmn").pack
    return pack_from_text(dump_pack_yaml(data), "risk.rules.yaml"), data


def test_import_gives_one_decision_per_table_with_labels() -> None:
    result = import_dmn(DMN, "risk.dmn")
    pack, _ = _load(DMN)
    assert [d.name for d in pack.decisions] == NAMES
    assert pack.decision("risk_u").label == "Risk (unique)"
    assert pack.decision("risk_u").labels == {"age": "Applicant Age"}
    # an output name that is no identifier becomes one, its DMN name kept as the label
    assert pack.decision("segment").labels["segment_name"] == "Segment Name"
    assert [d.hit for d in pack.decisions] == ["U", "A", "P", "F", "R", "O", "C", "C+", "C<",
                                               "C>", "C#", "F"]
    assert all("typeRef='number'" in s for s in result.skipped)


def test_imported_tables_decide_as_dmn_says() -> None:
    pack, _ = _load(DMN)
    out = pack.evaluate({"age": 22, "plan": "gold", "roaming": True, "limit": 30})
    # age 22 matches rows 1 (low), 2 (high), 3 (medium)
    assert isinstance(out["risk_u"], Violation)
    assert isinstance(out["risk_a"], Violation)
    assert out["risk_p"] == "high"
    assert out["risk_f"] == "low"
    assert out["risk_r"] == ["low", "high", "medium"]
    assert out["risk_o"] == ["high", "medium", "low"]
    assert out["fee_sum"] == 20          # gold: 10; roaming true: 5; gold/silver + true: 5
    assert out["fee_min"] is None        # 22 is in neither (0..10] nor ]5..20[: no match
    assert out["fee_max"] is None
    assert out["fee_count"] == 1         # only the "-" row: value 3
    assert out["segment"] == {"segment_name": "young gold", "score": Decimal("1.5")}
    out = pack.evaluate({"age": 7, "plan": "bronze", "roaming": False, "limit": 5})
    assert out["fee_sum"] == Decimal("2.50")        # not gold, not roaming
    # age 7 is in (0..10] and ]5..20[: min(1, 2) = 1, max = 2; count: values 1, 1, 3 -> 2
    assert (out["fee_min"], out["fee_max"], out["fee_count"]) == (1, 2, 2)
    assert out["segment"] == {"segment_name": "other", "score": None}
    # a plan spelt "< 5" is text in the DMN file, not a comparison
    assert pack.evaluate({"age": 40, "plan": "< 5", "roaming": False, "limit": 5})[
        "segment"] == {"segment_name": "odd plan", "score": 2}
    assert pack.evaluate({"age": None, "plan": "x", "roaming": None, "limit": 5})[
        "segment"]["segment_name"] == "unknown"


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 80),
                    st.decimals(min_value=-5, max_value=80, places=2),
                    st.sampled_from(["gold", "silver", "bronze", "< 5", "", "-"]))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Violation) and isinstance(b, Violation):
        return a.rules == b.rules and a.hit == b.hit
    return bool(a == b) and type(a) is type(b)


@settings(deadline=None, max_examples=150)
@given(age=_VALUES, plan=_VALUES, roaming=_VALUES, limit=st.integers(0, 60))
def test_round_trip_import_export_import_decides_the_same(age: Any, plan: Any, roaming: Any,
                                                          limit: int) -> None:
    first, data = _load(DMN)
    xml = export_dmn(first, source=data)
    second, data2 = _load(xml)
    assert [d.name for d in second.decisions] == [d.name for d in first.decisions]
    assert [(d.hit, d.label, d.labels) for d in second.decisions] == \
        [(d.hit, d.label, d.labels) for d in first.decisions]
    assert data2["decisions"] == data["decisions"]
    ctx = {"age": age, "plan": plan, "roaming": roaming, "limit": limit}
    a, b = first.evaluate(ctx), second.evaluate(ctx)
    assert all(_same(a[n], b[n]) for n in NAMES), (a, b)


def test_unsupported_elements_are_listed_with_their_lines() -> None:
    text = f"""<definitions xmlns="{NS}" name="x">
<itemDefinition name="t"/>
<decision id="a" name="A"><literalExpression><text>1</text></literalExpression></decision>
<decision id="b" name="B"><decisionTable>
<input><inputExpression><text>Applicant Age</text></inputExpression></input>
<output name="o"/>
<rule><inputEntry><text>date("2020-01-01")</text></inputEntry>
<outputEntry><text>"x"</text></outputEntry></rule>
</decisionTable></decision>
</definitions>"""
    with pytest.raises(DmnError) as err:
        import_dmn(text, "x.dmn")
    lines = [(p.line, p.message) for p in err.value.problems]
    assert (2, "<itemDefinition>: item definitions (custom types) are not supported") in lines
    assert any(line == 3 and "<literalExpression>: not supported inside <decision>" in m
               for line, m in lines)
    assert any(line == 5 and "input expression 'Applicant Age'" in m for line, m in lines)
    assert any(line == 7 and "input entry: 'date(\"2020-01-01\")' is not a literal" in m
               for line, m in lines)
    assert all(p.file == "x.dmn" for p in err.value.problems)


def test_export_lists_what_has_no_dmn_form() -> None:
    pack = pack_from_text("""
kind: rule-pack
name: x
decisions:
  - name: legacy
    hit: first
    table: {inputs: [a], outputs: [o], rows: [[1, x]]}
  - name: qmark
    hit: F
    table: {inputs: [a], outputs: [o], rows: [["? % 2 == 0", x]]}
""", "x.rules.yaml")
    source = {"decisions": [
        {"name": "legacy", "table": {"inputs": ["a"], "outputs": ["o"], "rows": [[1, "x"]]}},
        {"name": "qmark", "table": {"inputs": ["a"], "outputs": ["o"],
                                    "rows": [["? % 2 == 0", "x"]]}}]}
    with pytest.raises(DmnError) as err:
        export_dmn(pack, source=source)
    msgs = [str(p) for p in err.value.problems]
    assert len(msgs) == 2
    assert msgs[0].startswith("x.rules.yaml:5:5: decision 'legacy': hit policy 'first' is "
                              "telcoflow's")
    assert "row 1, input 1: the cell '? % 2 == 0' (an expression with ?) has no S-FEEL form" \
        in msgs[1]


@pytest.mark.parametrize(("text", "expect"), [
    ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
     f'<definitions xmlns="{NS}">&b;</definitions>', "DOCTYPE"),
    ('<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd">'
     f'<definitions xmlns="{NS}"/>', "DOCTYPE"),
    ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>'
     f'<definitions xmlns="{NS}">&x;</definitions>', "DOCTYPE"),
    ("<definitions", "not well-formed XML"),
    ('<definitions xmlns="urn:other"/>', "not a DMN document"),
])
def test_hostile_or_wrong_xml_is_refused(text: str, expect: str) -> None:
    with pytest.raises(DmnError, match=expect):
        import_dmn(text, "evil.dmn")


@settings(deadline=None, max_examples=200)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300),
                 st.lists(st.sampled_from([
                     f'<definitions xmlns="{NS}">', "</definitions>", "<decision>",
                     "</decision>", '<decisionTable hitPolicy="FIRST">', "</decisionTable>",
                     "<input><inputExpression><text>a</text></inputExpression></input>",
                     '<output name="o"/>', "<rule>", "</rule>",
                     "<inputEntry><text>", "</text></inputEntry>", "<outputEntry><text>",
                     "</text></outputEntry>", '"x"', "&lt; 5", "[1..", "not(", ",", "-",
                     "<!DOCTYPE x>", "&amp;", "1.5", "null", "true"]), max_size=30)
                 .map("".join)))
def test_fuzzed_documents_import_or_fail_with_a_dmn_error(data: str | bytes) -> None:
    try:
        result = import_dmn(data, "fuzz.dmn")
    except DmnError as exc:
        problems = exc.problems
    else:
        problems = ()
        pack_from_text(dump_pack_yaml(result.pack))  # what imports, loads (or RuleError)
    assert all(p.file == "fuzz.dmn" for p in problems)


def test_cli_import_then_export(tmp_path: Path) -> None:
    src = tmp_path / "risk.dmn"
    src.write_text(DMN, encoding="utf-8")
    runner = CliRunner()
    got = runner.invoke(main, ["rules", "import", str(src)])
    assert got.exit_code == 0, got.output
    assert "(12 decisions)" in got.output
    out = tmp_path / "risk.rules.yaml"
    assert out.is_file()
    got = runner.invoke(main, ["rules", "export", str(out), "-o", str(tmp_path / "back.dmn")])
    assert got.exit_code == 0, got.output
    again = import_dmn((tmp_path / "back.dmn").read_bytes(), "back.dmn").pack
    assert [d["name"] for d in again["decisions"]] == NAMES


def test_cli_import_of_an_unsupported_file_lists_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "bad.dmn"
    src.write_text(f'<definitions xmlns="{NS}">\n<itemDefinition name="t"/>\n</definitions>',
                   encoding="utf-8")
    got = CliRunner().invoke(main, ["rules", "import", str(src)])
    assert got.exit_code == 1
    assert f"{src}:2: <itemDefinition>: item definitions" in got.output
    assert "Traceback" not in got.output
    assert not (tmp_path / "bad.rules.yaml").exists()
