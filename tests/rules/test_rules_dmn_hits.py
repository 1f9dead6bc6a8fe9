"""DMN 1.3 hit policies, null and typing, worked out by hand from the specification.

The specification (DMN 1.3, 8.2.11 "Hit policy"): U - only one rule can match; A - rules may
overlap but must give equal outputs; P - the match whose outputs come first in the output
values list; F - the first match in rule order; R - every match in rule order; O - every
match in decreasing output priority; C - every match (unordered; we keep rule order); C+,
C<, C>, C# - sum, minimum, maximum, count of the (distinct, for C#) output values. No match
gives null (the default output, when given). A one-output table gives the value itself.
"""

from __future__ import annotations

import copy
import json
import pickle
from decimal import Decimal
from typing import Any

import pytest

from telcoflow.errors import DecisionError, RuleError
from telcoflow.rules.pack import RulePack, pack_from_text
from telcoflow.rules.values import Result, Violation

# rows of the risk table, with the ages they match
#   row 1: < 25        -> low
#   row 2: [18..30]    -> high
#   row 3: > 20        -> medium
#   row 4: >= 60       -> low
RISK = """
kind: rule-pack
name: risk
decisions:
  - name: risk
    label: Risk Category
    hit: {hit}
    output_values: {{risk: [high, medium, low]}}
    table:
      inputs: [age]
      outputs: [risk]
      labels: {{age: Applicant Age, risk: Risk Category}}
      rows:
        - ["< 25", low]
        - ["[18..30]", high]
        - ["> 20", medium]
        - [">= 60", low]
"""


def risk(hit: str, age: Any) -> Any:
    return pack_from_text(RISK.format(hit=hit)).evaluate({"age": age})["risk"]


def test_unique_with_one_match_gives_the_value() -> None:
    assert risk("U", 10) == "low"   # only row 1 (10 < 25)


def test_unique_with_three_matches_is_an_error_value_naming_the_rules() -> None:
    value = risk("U", 22)           # rows 1 (22 < 25), 2 (18 <= 22 <= 30), 3 (22 > 20)
    assert isinstance(value, Violation)
    assert value.rules == ("row 1", "row 2", "row 3")
    assert "hit policy U (unique) but 3 rules matched: row 1, row 2, row 3" in value.message
    assert not value
    assert value.to_dict()["rules"] == ["row 1", "row 2", "row 3"]


def test_a_violation_raises_when_asked() -> None:
    text = RISK.format(hit="U").replace("    hit: U\n", "    hit: U\n    on_violation: raise\n")
    pack = pack_from_text(text)
    with pytest.raises(DecisionError, match="3 rules matched: row 1, row 2, row 3"):
        pack.evaluate({"age": 22})


def test_any_with_disagreeing_matches_is_an_error_value() -> None:
    value = risk("A", 70)           # rows 3 (medium) and 4 (low): they disagree
    assert isinstance(value, Violation)
    assert value.rules == ("row 3", "row 4")


def test_any_with_agreeing_matches_gives_the_value() -> None:
    pack = pack_from_text(RISK.format(hit="A").replace('["< 25", low]', '["< 25", medium]'))
    # age 22: rows 1 (now medium), 2 (high), 3 (medium): high disagrees
    assert isinstance(pack.evaluate({"age": 22})["risk"], Violation)
    # age 70: rows 3 (medium) and 4 (low) still disagree; age 21 -> rows 1, 2, 3 as above
    pack2 = pack_from_text(RISK.format(hit="A").replace('["[18..30]", high]',
                                                        '["[18..30]", medium]')
                           .replace('["< 25", low]', '["< 25", medium]'))
    assert pack2.evaluate({"age": 22})["risk"] == "medium"   # rows 1, 2, 3 all medium


def test_priority_takes_the_highest_output_value() -> None:
    assert risk("P", 22) == "high"      # low, high, medium match: high is first in the list
    assert risk("P", 70) == "medium"    # rows 3 (medium) and 4 (low)
    assert risk("P", 10) == "low"


def test_first_takes_the_first_match_in_rule_order() -> None:
    assert risk("F", 22) == "low"       # row 1
    assert risk("F", 70) == "medium"    # row 3


def test_rule_order_and_collect_list_every_match_in_rule_order() -> None:
    assert risk("R", 22) == ["low", "high", "medium"]
    assert risk("C", 22) == ["low", "high", "medium"]
    assert risk("R", 70) == ["medium", "low"]


def test_output_order_sorts_by_decreasing_priority() -> None:
    assert risk("O", 22) == ["high", "medium", "low"]
    assert risk("O", 70) == ["medium", "low"]


def test_count_counts_distinct_values() -> None:
    assert risk("C#", 22) == 3          # low, high, medium
    # age 70: rows 3, 4 -> medium, low: 2; with row 4 giving medium too it would be 1
    pack = pack_from_text(RISK.format(hit="C#").replace('[">= 60", low]', '[">= 60", medium]'))
    assert pack.evaluate({"age": 70})["risk"] == 1


@pytest.mark.parametrize("hit", ["U", "A", "P", "F", "R", "O", "C", "C#"])
def test_no_match_is_null_for_every_hit_policy(hit: str) -> None:
    # ages 0..17 match row 1 only; none is below zero, so build a table no age matches:
    # a null age matches no row (null < 25 is null in FEEL, not true)
    assert risk(hit, None) is None


@pytest.mark.parametrize("hit", ["U", "F", "P", "C", "C#"])
def test_inputs_of_another_type_do_not_match(hit: str) -> None:
    assert risk(hit, True) is None      # a boolean is not a number
    assert risk(hit, "22") is None      # text is not a number


def test_no_match_gives_the_default_when_there_is_one() -> None:
    text = RISK.format(hit="U") + "    default: {risk: low}\n"
    pack = pack_from_text(text)
    assert pack.evaluate({"age": None})["risk"] == "low"
    text_c = RISK.format(hit="C") + "    default: {risk: low}\n"
    assert pack_from_text(text_c).evaluate({"age": None})["risk"] == ["low"]


FEES = """
kind: rule-pack
name: fees
decisions:
  - name: fee
    hit: {hit}
    table:
      inputs: [plan, roaming]
      outputs: [fee]
      rows:
        - [gold, "-", 10]
        - ["-", true, 5]
        - [gold, true, 5]
        - [silver, "-", 2.50]
"""


def fee(hit: str, plan: Any, roaming: Any) -> Any:
    return pack_from_text(FEES.format(hit=hit)).evaluate({"plan": plan, "roaming": roaming})["fee"]


def test_aggregates() -> None:
    # gold, roaming: rows 1 (10), 2 (5), 3 (5)
    assert fee("C+", "gold", True) == 20            # 10 + 5 + 5
    assert fee("C<", "gold", True) == 5
    assert fee("C>", "gold", True) == 10
    assert fee("C#", "gold", True) == 2             # distinct: 10, 5
    assert fee("C+", "silver", False) == Decimal("2.50")   # row 4 only


@pytest.mark.parametrize("hit", ["C+", "C<", "C>", "C#"])
def test_aggregates_of_no_match_are_null(hit: str) -> None:
    assert fee(hit, "bronze", False) is None


def test_a_number_cell_does_not_match_a_boolean_and_true_does_not_match_one() -> None:
    assert fee("C+", "bronze", 1) is None           # cell `true` vs input 1: no match
    text = FEES.format(hit="C") .replace('[gold, "-", 10]', '[gold, 1, 10]')
    pack = pack_from_text(text)
    # cell 1 vs input true: no match; row 2 (true) and row 3 (gold, true) match
    assert pack.evaluate({"plan": "gold", "roaming": True})["fee"] == [5, 5]
    assert pack.evaluate({"plan": "gold", "roaming": 1})["fee"] == [10]


def test_priority_ties_go_to_rule_order_for_compound_outputs() -> None:
    text = """
kind: rule-pack
name: ties
decisions:
  - name: d
    hit: {hit}
    output_values: {{risk: [high, medium, low]}}
    table:
      inputs: [x]
      outputs: [risk, reason]
      rows:
        - [">= 0", medium, a]
        - ["> 5", medium, b]
        - ["> 8", low, c]
"""
    # x = 9: all three match; medium ranks 1, low 2; the two mediums tie -> rule order
    assert pack_from_text(text.format(hit="P")).evaluate({"x": 9})["d"] == \
        {"risk": "medium", "reason": "a"}
    assert [o["reason"] for o in pack_from_text(text.format(hit="O")).evaluate({"x": 9})["d"]] \
        == ["a", "b", "c"]


def test_null_cells_and_equals_null() -> None:
    text = """
kind: rule-pack
name: nulls
decisions:
  - name: d
    hit: F
    table:
      inputs: [x]
      outputs: [v]
      rows:
        - ["== null", is-null]
        - [~, any]
"""
    pack = pack_from_text(text)
    assert pack.evaluate({"x": None})["d"] == "is-null"
    assert pack.evaluate({"x": 0})["d"] == "any"      # a bare null cell means any value


def test_question_mark_inside_quoted_text_is_not_the_input() -> None:
    text = """
kind: rule-pack
name: q
decisions:
  - name: d
    hit: F
    table:
      inputs: [x]
      outputs: [v]
      rows:
        - ["? == 'why?'", yes]
        - ["-", no]
"""
    pack = pack_from_text(text)
    assert pack.evaluate({"x": "why?"})["d"] == "yes"
    assert pack.evaluate({"x": "why"})["d"] == "no"


def test_load_checks_for_dmn_hit_policies() -> None:
    with pytest.raises(RuleError) as err:
        pack_from_text(RISK.format(hit="P").replace(
            "    output_values: {risk: [high, medium, low]}\n", ""))
    assert "hit policy P needs `output_values`" in str(err.value)
    with pytest.raises(RuleError) as err:
        pack_from_text(RISK.format(hit="U").replace('["< 25", low]', '["< 25", lowest]'))
    assert "row 1 gives risk = 'lowest', not one of its output_values" in str(err.value)
    with pytest.raises(RuleError) as err:
        pack_from_text(FEES.format(hit="C+").replace("outputs: [fee]", "outputs: [fee, x]")
                       .replace('10]', '10, 1]').replace('5]', '5, 1]').replace('2.50]',
                                                                             '2.50, 1]'))
    assert "hit policy C+ aggregates one output; this table has 2 (fee, x)" in str(err.value)


def test_results_are_read_only_dicts_that_serialise() -> None:
    pack = pack_from_text(RISK.format(hit="P").replace("outputs: [risk]", "outputs: [risk, n]")
                          .replace(" low]", " low, 1]").replace(" high]", " high, 2]")
                          .replace(" medium]", " medium, 3]"))
    value = pack.evaluate({"age": 22})["risk"]
    assert isinstance(value, dict)
    assert isinstance(value, Result)
    assert json.dumps(value) == '{"risk": "high", "n": 2}'
    with pytest.raises(TypeError, match="read-only"):
        value["risk"] = "low"  # type: ignore[index]
    assert pickle.loads(pickle.dumps(value)) == {"risk": "high", "n": 2}
    assert copy.deepcopy(value) == value
    mutable = dict(value)
    mutable["risk"] = "low"
    assert value["risk"] == "high"


def test_labels_are_shown_in_the_trace() -> None:
    pack: RulePack = pack_from_text(RISK.format(hit="U"))
    trace = pack.explain({"age": 10})
    text = trace.render()
    assert "decision risk ('Risk Category') [generic, U unique]" in text
    assert "saw age ('Applicant Age') = 10" in text
    assert "{risk ('Risk Category'): 'low'}" in text
    assert trace.to_dict()["decisions"][0]["label"] == "Risk Category"
    violated = pack.explain({"age": 22}).to_dict()["decisions"][0]["value"]
    assert violated["rules"] == ["row 1", "row 2", "row 3"]


def test_telcoflow_spellings_keep_their_meaning() -> None:
    # `collect` with no match stays [] and `unique` still raises (documented, unchanged)
    text = FEES.format(hit="collect")
    assert pack_from_text(text).evaluate({"plan": "bronze", "roaming": False})["fee"] == []
