"""Pydantic models of the rule-pack YAML format (``kind: rule-pack``); also its JSON Schema.

A pack is one YAML file, or a folder holding ``pack.yaml`` (a :class:`RulePackModel`) plus
any number of ``*.yaml`` parts (:class:`RulePackPartModel`, ``kind: rule-pack-part``) whose
decisions, stateful rules and tests are appended in file-name order.

Output values in ``then`` / table output cells are literals, except text starting with
``=`` which is an expression (``"= event.volume_mb * 0.01"``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DecisionModel",
    "HitPolicy",
    "RuleModel",
    "RulePackModel",
    "RulePackPartModel",
    "StatefulRuleModel",
    "TableModel",
    "TestCaseModel",
]

Scalar = str | int | Decimal | bool | None
HitPolicy = Literal["unique", "first", "priority", "any", "collect", "rule-order",
                    "U", "A", "P", "F", "R", "O", "C", "C+", "C<", "C>", "C#"]
"""DMN 1.3 letters (DMN semantics) or telcoflow's earlier names (their earlier meaning)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class RuleModel(_Frozen):
    """One rule: equality conditions (``when``), a condition expression (``if``), outputs."""

    id: str = Field(min_length=1, description="unique within its decision")
    description: str = ""
    priority: int = Field(0, description="higher wins under the `priority` hit policy")
    when: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict,
        description="dotted path -> required value (a list means any of them); indexed")
    if_: str | None = Field(None, alias="if", description="a condition expression")
    then: dict[str, Any] = Field(default_factory=dict, description="outputs")
    enabled: bool = True


class TableModel(_Frozen):
    """A DMN-style decision table: input expressions, output names and rows of cells.

    Input cells: ``-`` or a YAML null (any value, null included), bare text (equals that
    text, indexed), a number or boolean (equals it; ``1`` never matches ``true``), a list
    (one of them), a comparison whose right side is an expression (``"< 10"``, ``">= 1.5"``,
    ``'!= "home"'``, ``"== null"``), a range (``"[0..100)"``, ``"(1..5]"``),
    ``'not("a", "b")'``, or an expression using ``?`` for the input (``"? % 2 == 0"``; a
    ``?`` inside quoted text stays). An input that is null or of another type than the
    cell's value does not match. See docs/rules.md, "Decision tables".
    """

    inputs: list[str] = Field(min_length=1, description="input expressions")
    outputs: list[str] = Field(min_length=1, description="output names (identifiers)")
    rows: list[list[Any]] = Field(min_length=1, description="input cells, then output cells")
    priorities: list[int] | None = Field(
        None, description="one integer per row, for telcoflow's `priority` hit policy only "
                          "(DMN's `P` and `O` use the decision's `output_values`)")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="names for people, by input expression or output name "
                    "(e.g. {risk: Risk Category}); shown in traces and DMN exports")

    @field_validator("outputs")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not name.isidentifier():
                raise ValueError(f"output names must be identifiers (got {name!r})")
        return v


class DecisionModel(_Frozen):
    """A named decision: a list of rules or a decision table, with a hit policy."""

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$",
                      description="identifier used by code and later decisions")
    label: str = Field("", description="the name shown to people (e.g. `Risk Category`)")
    kind: str = Field("generic", description="a registered rule kind: rating, discount, ...")
    description: str = ""
    hit: HitPolicy | None = Field(
        None, description="DMN letter (U A P F R O C C+ C< C> C#) or telcoflow name; "
                          "default: the kind's default")
    output_values: dict[str, list[Scalar]] | None = Field(
        None, description="output -> its allowed values in decreasing priority (DMN output "
                          "values; needed by hit policies P and O)")
    on_violation: Literal["error", "raise"] = Field(
        "error", description="DMN U/A tables: a violated hit policy gives an error value "
                             "naming the rules (`error`), or raises DecisionError (`raise`)")
    aggregate: Literal["sum", "min", "max", "count"] | None = Field(
        None, description="with hit `collect`: combine one output of every match")
    output: str | None = Field(None, description="the output to aggregate")
    when: str | None = Field(None, description="the decision applies only when this holds")
    rules: list[RuleModel] = Field(default_factory=list)
    table: TableModel | None = None
    default: dict[str, Any] | None = Field(None, description="outputs when nothing matches")


class StatefulRuleModel(_Frozen):
    """A stateful / temporal rule, correlated per ``key`` within a time window.

    Exactly one pattern: ``count`` (N events matching ``match`` within ``within``),
    ``sequence`` (conditions matched by successive events, in order, within ``within``) or
    ``total`` (an expression summed over matching events until it reaches ``reach``).
    """

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    key: str = Field(description="expression giving the correlation key, e.g. event.subscriber")
    time: str = Field("event.time", description="expression giving the event timestamp")
    match: str | None = Field(None, description="condition selecting events (count/total)")
    count: int | None = Field(None, ge=2, le=20)
    sequence: list[str] | None = Field(None, min_length=2, max_length=10)
    total: str | None = Field(None, description="expression summed over matching events")
    reach: str | None = Field(None, description="expression: the total that fires the rule")
    within: str | None = Field(None, pattern=r"^\d+(s|m|h|d)$",
                               description="window, e.g. 90s, 30m, 1h, 7d")
    then: dict[str, Any] = Field(default_factory=dict)


class TestCaseModel(_Frozen):
    """A test case: given a context (or a series of events), expect outcomes."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    name: str = Field(min_length=1)
    context: dict[str, Any] = Field(default_factory=dict, description="the given context")
    events: list[dict[str, Any]] | None = Field(
        None, description="for stateful rules: events in order (each a context)")
    lines: list[dict[str, Any]] | None = Field(
        None, description="charge lines to settle with the pack (discounts then tax); "
                          "expect `settlement.total`, `settlement.tax_total`, ...")
    currency: str = Field("EUR", description="currency of `lines`")
    expect: dict[str, Any] = Field(
        default_factory=dict,
        description="decision (or decision.output) -> expected value; a mapping is a subset")
    expect_matched: list[str] | None = Field(
        None, description="ids of the rules / rows that matched, as decision/rule")
    expect_fired: list[str] | None = Field(
        None, description="stateful rule ids fired over `events`, in order")
    expect_error: str | None = Field(None, description="text the error message must contain")


class _PackBody(_Frozen):
    let: dict[str, str] = Field(
        default_factory=dict, description="computed values, in order, added to the context")
    decisions: list[DecisionModel] = Field(default_factory=list)
    stateful: list[StatefulRuleModel] = Field(default_factory=list)
    tests: list[TestCaseModel] = Field(default_factory=list)


class RulePackModel(_PackBody):
    """A rule pack (``kind: rule-pack``)."""

    kind: Literal["rule-pack"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str = "1"
    description: str = ""
    context: list[str] | None = Field(
        None, description="top-level names the context has (checked in every expression)")


class RulePackPartModel(_PackBody):
    """More decisions / stateful rules / tests of a folder pack (``kind: rule-pack-part``)."""

    kind: Literal["rule-pack-part"]
    description: str = ""
