"""Hostile YAML is refused quickly with a located problem, never a traceback (issue #14, 3)."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from telcoflow.cli import run
from telcoflow.errors import DefinitionError, Problem, RuleError
from telcoflow.loading.compose import (
    MAX_ALIAS_NODES,
    MAX_BYTES,
    MAX_DEPTH,
    LimitError,
    compose_single,
)
from telcoflow.loading.kinds import validate_paths
from telcoflow.loading.source import load_document, parse_yaml, read_yaml_text
from telcoflow.rules.pack import load_pack


def bomb(levels: int, width: int) -> str:
    """Nested anchors: level n is a list of ``width`` aliases of level n - 1.

    Expanded, the last level has width ** levels leaves; as text it is a few hundred bytes.
    """
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for n in range(1, levels + 1):
        lines.append(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def test_the_issues_alias_bomb_is_refused_in_milliseconds_with_its_location() -> None:
    # issue: a 369-byte file of 6 nested levels took 19.5 s and 3.1 GB; 9 levels here
    text = bomb(9, 9)
    tracemalloc.start()
    start = time.perf_counter()
    doc = parse_yaml(text, "bomb.yaml")
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.1
    assert peak < 5_000_000
    assert doc.data is None
    [problem] = doc.problems
    assert problem.code == "E-yaml-aliases"
    # level sizes: l0 10 nodes (a list of 9), l1 = 1 + 9 x 10 = 91, l2 820, l3 7381, l4 66430;
    # aliases add 9 x (10 + 91 + 820 + 7381) = 74,718 up to l4, and the first *l4 of l5
    # brings 74,718 + 66,430 > 100,000: line 6 (l5), column 10 (`l5: &l5 [` is 9 characters)
    assert (problem.file, problem.line, problem.column) == ("bomb.yaml", 6, 10)
    assert "more than 100,000 nodes" in problem.message


def test_a_bomb_just_over_the_limit_is_refused_one_under_it_is_read() -> None:
    # width 20: sizes l0 21, l1 421, l2 8421. Two levels: aliases add 20 x (21 + 421) =
    # 8,840 (read). Three: each *l2 adds 8,421 and 8,840 + 11 x 8,421 = 101,471 > 100,000,
    # so the 11th *l2 is refused: line 4, column 9 + 10 x len("*l2, ") + 1 = 60
    doc = parse_yaml(bomb(2, 20), "b.yaml")
    assert doc.problems == []
    assert len(doc.data["l2"]) == 20
    assert len(doc.data["l2"][0]) == 20
    [problem] = parse_yaml(bomb(3, 20), "b.yaml").problems
    assert (problem.code, problem.line, problem.column) == ("E-yaml-aliases", 4, 60)
    assert MAX_ALIAS_NODES == 100_000


@pytest.mark.parametrize(("text", "line", "column"), [
    ("&a [*a]\n", 1, 5),                   # issue: RecursionError
    ("x:\n  y: &a {z: [1, *a]}\n", 2, 17),
])
def test_recursive_aliases_are_refused_with_their_location(text: str, line: int,
                                                          column: int) -> None:
    [problem] = parse_yaml(text, "r.yaml").problems
    assert problem.code == "E-yaml-recursive-alias"
    assert (problem.line, problem.column) == (line, column)
    assert "*a" in problem.message


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    ok = "x: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"  # mapping + 100 lists = 101 levels
    deep = "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    assert codes(parse_yaml(deep, "d.yaml").problems) == []
    [problem] = parse_yaml(ok, "d.yaml").problems
    assert problem.code == "E-yaml-depth"
    assert (problem.line, problem.column) == (1, 3 + MAX_DEPTH)  # the 101st opening bracket


def test_a_document_over_8_mib_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("x: '" + "a" * MAX_BYTES + "'\n", encoding="utf-8")
    doc = load_document(big)
    assert codes(doc.problems) == ["E-yaml-size"]
    assert doc.data is None
    assert codes(parse_yaml("x: '" + "a" * MAX_BYTES + "'\n").problems) == ["E-yaml-size"]


def test_latin1_bytes_are_located_by_line_column_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("kind: catalog\nname: caf\u00e9\n".encode("latin-1"))  # issue: traceback
    [problem] = load_document(path).problems
    # "kind: catalog\n" is 14 bytes, "name: caf" 9 more: the 0xe9 byte is at offset 23,
    # line 2, column 10
    assert (problem.code, problem.line, problem.column) == ("E-yaml-encoding", 2, 10)
    assert "byte 0xe9 at byte offset 23" in problem.message
    with pytest.raises(DefinitionError) as info:
        read_yaml_text(path)
    assert info.value.problems == (problem,)


def test_a_utf16_file_is_refused_a_utf8_bom_is_read(tmp_path: Path) -> None:
    utf16 = tmp_path / "u16.yaml"
    utf16.write_bytes("x: 1\n".encode("utf-16"))
    assert [(p.code, p.line) for p in load_document(utf16).problems] == [("E-yaml-encoding", 1)]
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfx: 1\n")
    doc = load_document(bom)
    assert (doc.problems, doc.data) == ([], {"x": 1})


def test_lone_surrogates_and_control_characters_are_located() -> None:
    [problem] = parse_yaml("a: 1\nb: x\ud800\n", "s.yaml").problems
    assert (problem.code, problem.line, problem.column) == ("E-yaml-encoding", 2, 5)
    [problem] = parse_yaml("a: 1\n\u00e9: \x07\n", "c.yaml").problems
    # libyaml counts bytes: the located column is still in characters (\u00e9 is 2 bytes)
    assert (problem.code, problem.line, problem.column) == ("E-yaml-encoding", 2, 4)
    assert "U+0007" in problem.message


@pytest.mark.parametrize(("text", "code", "message"), [
    ("d: 2026-13-45\n", "E-yaml-value", "invalid date '2026-13-45'"),  # issue: ValueError
    ("d: !!int abc\n", "E-yaml-value", "invalid integer 'abc'"),
    ("d: !!python/object:os.system {}\n", "E-yaml-tag", "!!python/object:os.system"),
    ("d: !custom x\n", "E-yaml-tag", "YAML tag !custom is not supported"),
    ("d: !!set {a, b}\n", "E-yaml-tag", "!!set"),
    ("d: {<<: 1}\n", "E-yaml-merge", "merge"),
    ("d: *nothing\n", "E-yaml-alias", "*nothing names no anchor"),
    # found by the fuzz (IndexError, AttributeError out of PyYAML on an empty scalar)
    ("d: !!int\n", "E-yaml-value", "invalid integer '': not a value of this type"),
    ("!!timestamp : 1\n", "E-yaml-value", "invalid date ''"),
])
def test_odd_tags_and_values_are_located_problems(text: str, code: str, message: str) -> None:
    [problem] = parse_yaml(text, "t.yaml").problems
    assert (problem.code, problem.file, problem.line) == (code, "t.yaml", 1)
    assert message in problem.message


def test_a_second_document_is_located() -> None:
    [problem] = parse_yaml("d: 1\n---\nd: 2\n", "two.yaml").problems
    assert (problem.code, problem.line, problem.column) == ("E-yaml-syntax", 2, 1)
    assert "found a second document (a file holds exactly one)" in problem.message


def test_valid_dates_and_merge_keys_still_load() -> None:
    doc = parse_yaml("d: 2026-11-01\nb: &b {q: 1}\nc: {<<: *b, r: 2}\n", "ok.yaml")
    assert doc.problems == []
    assert str(doc.data["d"]) == "2026-11-01"
    assert doc.data["c"] == {"q": 1, "r": 2}


def test_a_syntax_error_is_one_problem_not_two(tmp_path: Path) -> None:
    # issue: a syntax error was followed by "`kind` must be one of ... (found None)"
    path = tmp_path / "broken.yaml"
    path.write_text("kind: journey\nid: [x,\n", encoding="utf-8")
    problems, checked = validate_paths([path])
    assert checked == 1
    assert [(p.code, p.line) for p in problems] == [("E-yaml-syntax", 3)]


def test_a_bad_value_is_not_reported_again_by_validation(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("kind: close-policy\npayment_terms_days: !!int abc\n", encoding="utf-8")
    problems, _ = validate_paths([path])
    # the value is unreadable (None): no second "should be a valid integer" problem there
    assert [(p.code, p.line, p.path) for p in problems] == [
        ("E-yaml-value", 2, "$.payment_terms_days")]


def test_a_rule_pack_in_latin1_is_a_located_rule_error(tmp_path: Path) -> None:
    path = tmp_path / "p.rules.yaml"
    path.write_bytes(b"kind: rule-pack\nname: caf\xe9\n")
    with pytest.raises(RuleError) as info:
        load_pack(path)
    assert [(p.code, p.line, p.column) for p in info.value.problems] == [
        ("E-yaml-encoding", 2, 10)]


def test_cli_validate_reports_a_latin1_file_in_one_line(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"kind: catalog\nname: caf\xe9\n")
    code = run(["validate", str(path)])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 1
    assert "Traceback" not in text
    assert f"{path}:2:10: not UTF-8: byte 0xe9 at byte offset 23" in text


def test_cli_validate_refuses_a_bomb_quickly(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("kind: catalog\n" + bomb(7, 9), encoding="utf-8")
    start = time.perf_counter()
    code = run(["validate", str(path)])
    elapsed = time.perf_counter() - start
    text = capsys.readouterr().err
    assert code == 1
    assert elapsed < 1.0
    assert "[E-yaml-aliases]" in text
    assert "E-kind" not in text  # one problem, no follow-on


def test_an_empty_file_is_one_located_problem(tmp_path: Path) -> None:
    # found by the fuzz: an emptied file gave "`kind` must be one of ..." with no line
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing left\n", encoding="utf-8")
    problems, _ = validate_paths([path])
    assert [(p.code, p.line, p.column) for p in problems] == [("E-empty", 1, 1)]


@pytest.mark.parametrize("base", [yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)],
                         ids=["python", "c"])
def test_the_composer_holds_its_limits_with_either_parser(base: type[yaml.SafeLoader]) -> None:
    # the C parser is preferred (speed); PyYAML's pure-Python one is the fallback
    for text, code in [(bomb(3, 20), "E-yaml-aliases"), ("&a [*a]", "E-yaml-recursive-alias"),
                       ("[" * 101 + "]" * 101, "E-yaml-depth")]:
        loader = base(text)
        try:
            with pytest.raises(LimitError) as info:
                compose_single(loader)
        finally:
            loader.dispose()
        assert info.value.code == code
    loader = base("a: &x [1, 2]\nb: *x\n")
    try:
        node = compose_single(loader)
    finally:
        loader.dispose()
    assert node is not None
    assert node.value[1][1] is node.value[0][1]  # an alias is the anchored node, shared


def test_a_bad_key_skips_its_entry_only() -> None:
    doc = parse_yaml("a: 1\n!!int x: 2\nb: 3\n", "k.yaml")
    assert [(p.code, p.line, p.column) for p in doc.problems] == [("E-yaml-value", 2, 1)]
    assert doc.data == {"a": 1, "b": 3}
    assert not doc.covers(("b",))  # validation still reports problems of the other entries


@pytest.mark.parametrize(("content", "code"), [
    (b"ledger_url: [sqlite:///x.db\n", "E-yaml-syntax"),   # main: silently ignored
    (b"ledger_url: sqlite:///caf\xe9.db\n", "E-yaml-encoding"),  # main: UnicodeDecodeError
])
def test_a_backend_config_file_that_cannot_be_read_is_never_skipped(
        tmp_path: Path, content: bytes, code: str) -> None:
    from telcoflow.config import load_config

    path = tmp_path / "backends.yaml"
    path.write_bytes(content)
    with pytest.raises(DefinitionError) as info:
        load_config(path, env={})
    assert [(p.code, p.file) for p in info.value.problems] == [(code, str(path))]
    assert load_config(None, env={}) is not None  # no file at all: the defaults
