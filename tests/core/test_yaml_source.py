"""YAML loading keeps positions, refuses duplicate keys, keeps on/off as strings."""

from __future__ import annotations

from decimal import Decimal

import pydantic
import pytest

from telcoflow.errors import DefinitionError
from telcoflow.loading.source import format_path, parse_yaml
from telcoflow.loading.validate import validate_document


def test_yaml12_booleans_and_decimal_numbers() -> None:
    doc = parse_yaml("a: on\nb: off\nc: yes\nd: true\ne: 0.05\nf: 3\n", "t.yaml")
    assert doc.data == {"a": "on", "b": "off", "c": "yes", "d": True, "e": Decimal("0.05"), "f": 3}
    assert isinstance(doc.data["e"], Decimal)


def test_duplicate_keys_are_located_problems() -> None:
    doc = parse_yaml("x:\n  a: 1\n  a: 2\n", "dup.yaml")
    assert [str(p) for p in doc.problems] == [
        "dup.yaml:3:3 ($.x.a): duplicate key 'a' (first defined on line 2) [E-yaml-duplicate-key]"
    ]


def test_syntax_error_located() -> None:
    doc = parse_yaml("a: [1,\n", "bad.yaml")
    assert doc.problems[0].code == "E-yaml-syntax"
    assert doc.problems[0].file == "bad.yaml"
    assert doc.problems[0].line == 2


class _Item(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    name: str
    price: Decimal


class _Root(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    items: list[_Item]


def test_every_validation_error_is_collected_and_located() -> None:
    text = "items:\n  - name: a\n    price: abc\n  - name: b\n    colour: red\n    price: 1\n"
    doc = parse_yaml(text, "cat.yaml")
    with pytest.raises(DefinitionError) as info:
        validate_document(doc, _Root)
    got = [(p.line, p.path, p.code) for p in info.value.problems]
    assert got == [
        (3, "$.items[0].price", "E-decimal_parsing"),
        (5, "$.items[1].colour", "E-extra_forbidden"),
    ]
    assert "found 'abc'" in str(info.value)


def test_format_path() -> None:
    assert format_path(("offerings", 2, "prices", 0)) == "$.offerings[2].prices[0]"
    assert format_path(("a b",)) == "$['a b']"


def test_merge_keys_may_be_overridden_but_explicit_duplicates_may_not() -> None:
    text = "base: &b {q: 1, r: 2}\nitem:\n  <<: *b\n  q: 3\n"
    doc = parse_yaml(text, "m.yaml")
    assert doc.problems == []
    assert doc.data["item"] == {"q": 3, "r": 2}
    doc = parse_yaml("item:\n  <<: {q: 1}\n  q: 3\n  q: 4\n", "m.yaml")
    assert [p.code for p in doc.problems] == ["E-yaml-duplicate-key"]


def test_load_each_collects_problems_of_every_source() -> None:
    from telcoflow.errors import Problem, RuleError
    from telcoflow.loading.validate import load_each

    def load(name: str) -> str:
        if name.startswith("bad"):
            raise DefinitionError([Problem(f"{name} is wrong", "E-test", name, 1, 1)])
        return name.upper()

    assert load_each(["a", "b"], load) == ["A", "B"]
    with pytest.raises(RuleError) as info:
        load_each(["bad1", "ok", "bad2"], load, error=RuleError)
    assert [p.file for p in info.value.problems] == ["bad1", "bad2"]
