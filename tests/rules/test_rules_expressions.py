"""The expression language: semantics, safety, located errors, limits, fuzzing."""

from __future__ import annotations

import ast
import contextlib
import tracemalloc
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.errors import ExpressionError, TelcoflowError
from telcoflow.rules.expressions import (
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_LENGTH,
    MAX_TEXT,
    EvaluationError,
    compile_expression,
)

CTX: dict[str, Any] = {
    "payment": {"attempts": 2},
    "kyc": {"status": "passed"},
    "event": {"service": "data", "zone": "home", "volume_mb": 1500, "amount": Decimal("10.00"),
              "tags": ["a", "b"], "attrs": {"tier": "gold"}},
}


def test_guard_from_the_brief() -> None:
    expr = compile_expression('payment.attempts < 3 and kyc.status == "passed"')
    assert expr(CTX) is True
    assert expr({"payment": {"attempts": 3}, "kyc": {"status": "passed"}}) is False
    assert expr.source == 'payment.attempts < 3 and kyc.status == "passed"'
    assert expr.names == frozenset({"payment", "kyc"})
    assert expr.paths == (("payment", "attempts"), ("kyc", "status"))


@pytest.mark.parametrize(("source", "expected"), [
    ("1.1 + 2.2", Decimal("3.3")),                       # exact, never 3.3000000000000003
    ("event.amount * 1.08", Decimal("10.8000")),         # 10.00 x 1.08 = 10.8000
    ("7 / 2", Decimal("3.5")),                           # int / int divides as Decimal
    ("7 // 2", Decimal("3")),
    ("-event.amount", Decimal("-10.00")),
    ("event.volume_mb % 1000", Decimal("500")),          # 1500 mod 1000
    ("0 <= event.volume_mb < 2000", True),               # a range by chained comparison
    ('event.zone in ["home", "eu"]', True),
    ('event.zone not in ("home",)', False),
    ('"b" in event.tags', True),
    ("event.tags[0]", "a"),
    ('event.attrs["tier"]', "gold"),
    ('"x" if event.volume_mb > 1000 else "y"', "x"),
    ("has(event.zone) and not has(event.roaming)", True),
    ("get(event.roaming, false)", False),
    ("get(event.zone, null)", "home"),
    ("event.missing is None if has(event.missing) else true", True),
    ("between(event.volume_mb, 1000, 1500)", True),       # both ends included
    ("len(event.tags) + 1", 3),
    ('{"a": 1}["a"]', 1),
    ('"ab" + "cd"', "abcd"),
    ("true and not false", True),
])
def test_semantics(source: str, expected: Any) -> None:
    result = compile_expression(source)(CTX)
    assert result == expected
    assert type(result) is type(expected)


def test_decimal_literal_keeps_its_digits() -> None:
    assert str(compile_expression("0.10")({})) == "0.10"
    assert compile_expression("1e3")({}) == Decimal("1E+3")


def test_missing_path_names_the_path() -> None:
    expr = compile_expression("event.roaming.zone == 'eu'", file="p.yaml", line=4, column=9)
    with pytest.raises(EvaluationError) as info:
        expr(CTX)
    msg = str(info.value)
    assert "event.roaming is missing" in msg
    assert "have: amount, attrs, service" in msg
    assert msg.startswith("p.yaml:4:9: ")
    assert info.value.path == "event.roaming"


def test_none_parent_is_reported() -> None:
    with pytest.raises(EvaluationError, match=r"account.limit is missing \(account is None\)"):
        compile_expression("account.limit > 1")({"account": None})


def test_multiplying_collections_from_data_is_refused() -> None:
    # "x" * 10**9 from context data must not exhaust memory
    with pytest.raises(EvaluationError, match="`\\*` needs numbers, got str and int"):
        compile_expression("event.service * 1000000000")(CTX)


@pytest.mark.parametrize("code", ["%999999999d", "%s", "x"])
def test_modulo_takes_numbers_only_never_formats_text(code: str) -> None:
    # issue #14: "%999999999d" % 1 did Python string formatting (MemoryError, ~300 MB)
    tracemalloc.start()
    with pytest.raises(EvaluationError, match="`%` needs numbers, got str and int"):
        compile_expression("event.code % 2 == 0")({"event": {"code": code}})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000


def test_a_decision_table_cell_with_modulo_reports_text_instead_of_no_match() -> None:
    # issue #14: `? % 2 == 0` fed text cost ~100-300 MB per evaluation and was "no match"
    from telcoflow.rules.pack import pack_from_text

    pack = pack_from_text(
        "kind: rule-pack\nname: t\nversion: '1'\ncontext: [event]\ndecisions:\n"
        "  - name: parity\n    hit: first\n    table:\n      inputs: [event.code]\n"
        "      outputs: [r]\n      rows:\n        - ['? % 2 == 0', even]\n"
        "        - ['-', odd]\n", "t.yaml")
    assert pack.evaluate({"event": {"code": 4}})["parity"]["r"] == "even"  # 4 % 2 == 0
    with pytest.raises(EvaluationError, match=r"t.yaml:12:.*`%` needs numbers, got str"):
        pack.evaluate({"event": {"code": "%99999999d"}})


def test_joining_text_from_data_is_bounded() -> None:
    expr = compile_expression("event.a + event.b")
    half = "x" * (MAX_TEXT // 2)
    assert len(expr({"event": {"a": half, "b": half}})) == MAX_TEXT  # exactly the limit
    with pytest.raises(EvaluationError, match="cost bound: `\\+` would build a str of "
                                              "100,001 characters"):
        expr({"event": {"a": half, "b": half + "y"}})
    with pytest.raises(EvaluationError, match="list of 100,001 items"):
        expr({"event": {"a": [0] * MAX_TEXT, "b": [1]}})


def test_integer_results_are_bounded() -> None:
    big = 10 ** (MAX_DIGITS // 2)  # 51 digits: its square has 101 digits, over the bound
    assert compile_expression("a * b")({"a": big, "b": 10 ** (MAX_DIGITS // 2 - 1)}) \
        == 10 ** (MAX_DIGITS - 1)  # 10**50 x 10**49 = 10**99: 100 digits, allowed
    with pytest.raises(EvaluationError, match="cost bound: `\\*` would give an integer of "
                                              "101 digits or more"):
        compile_expression("a * a")({"a": big})
    with pytest.raises(EvaluationError, match="cost bound"):
        compile_expression("a + b")({"a": 10**MAX_DIGITS - 1, "b": 1})  # 10**100: 101 digits
    # a chain of products from data stops at the bound: (10**9)**12 = 10**108 is refused
    chain = " * ".join(["a"] * 15)
    with pytest.raises(EvaluationError, match="cost bound"):
        compile_expression(chain)({"a": 10**9})


def test_adding_number_literals_and_decimals_stays_exact() -> None:
    # the bound never touches ordinary arithmetic: 2.50 + 0.25 = 2.75, 1.5 + 2.25 = 3.75
    assert compile_expression("event.amount + 0.25")({"event": {"amount": Decimal("2.50")}}) \
        == Decimal("2.75")
    assert compile_expression("a + b")({"a": Decimal("1.5"), "b": Decimal("2.25")}) \
        == Decimal("3.75")
    assert compile_expression("a + b")({"a": "ab", "b": "cd"}) == "abcd"


def test_type_errors_become_evaluation_errors() -> None:
    with pytest.raises(EvaluationError, match="TypeError"):
        compile_expression("event.service + 1")(CTX)
    with pytest.raises(EvaluationError, match=r"DivisionByZero|ZeroDivision"):
        compile_expression("event.amount / 0")(CTX)


def test_objects_with_attributes_work_through_the_slow_path() -> None:
    class Payment:
        attempts = 1

    assert compile_expression("payment.attempts + 1")({"payment": Payment()}) == 2


@pytest.mark.parametrize(("source", "code"), [
    ("x.__class__", "E-expr-name"),
    ("_secret", "E-expr-name"),
    ("__import__('os')", "E-expr-function"),
    ("open('f')", "E-expr-function"),
    ("x.lower()", "E-expr-call"),
    ("(lambda: 1)()", "E-expr-call"),
    ("lambda: 1", "E-expr-syntax"),
    ("[a for a in b]", "E-expr-syntax"),
    ("2 ** 10", "E-expr-syntax"),
    ("1 << 3", "E-expr-syntax"),
    ("~1", "E-expr-syntax"),
    ("(y := 1)", "E-expr-syntax"),
    ('f"{x}"', "E-expr-syntax"),
    ('"a" * 3', "E-expr-type"),
    ("[0] * 3", "E-expr-type"),
    ("x[1:2]", "E-expr-syntax"),
    ("x is 1", "E-expr-syntax"),
    ("b'x'", "E-expr-syntax"),
    ("1j", "E-expr-syntax"),
    ("len(*x)", "E-expr-call"),
    ("min(x, key=y)", "E-expr-call"),
    ("len", "E-expr-name"),
    ("x = 1", "E-expr-syntax"),
    ("import os", "E-expr-syntax"),
    ("", "E-expr-empty"),
])
def test_refused(source: str, code: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert next(p.code for p in info.value.problems) == code


def test_error_column_is_file_column_plus_offset() -> None:
    # the expression starts at column 13 of line 9; `zon` is 25 characters in
    with pytest.raises(ExpressionError) as info:
        compile_expression('event.zone == "home" and zon == 1', file="r.yaml", line=9, column=13,
                           allowed_names={"event"})
    problem = info.value.problems[0]
    assert (problem.file, problem.line, problem.column) == ("r.yaml", 9, 38)
    assert "unknown name 'zon'" in problem.message
    assert str(problem).startswith("r.yaml:9:38: ")


def test_error_on_a_later_line_of_a_block() -> None:
    # a YAML block scalar at column 11: the second line's `foo` is 2 further in
    with pytest.raises(ExpressionError) as info:
        compile_expression("event.x >\n  foo(1)", file="r.yaml", line=17, column=11)
    problem = info.value.problems[0]
    assert (problem.line, problem.column) == (18, 13)


def test_every_problem_is_reported() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("a.__x + nope(1) + 2 ** 2")
    assert len(info.value.problems) == 3


def test_suggests_close_names() -> None:
    with pytest.raises(ExpressionError, match="did you mean 'event'"):
        compile_expression("evnt.zone", allowed_names={"event", "account"})


def test_limits() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("1 + " * (MAX_LENGTH // 4 + 1) + "1")
    assert info.value.problems[0].code == "E-expr-length"
    nested = "-" * (MAX_DEPTH + 5) + "1"  # 45 nested unary minus nodes
    with pytest.raises(ExpressionError) as info:
        compile_expression(nested)
    assert info.value.problems[0].code == "E-expr-depth"
    with pytest.raises(ExpressionError):
        compile_expression("(" * 1000)


def test_equalities_are_extracted_for_indexing() -> None:
    expr = compile_expression('event.service == "data" and "home" == event.zone '
                              'and event.slice in ["embb", 1.5] and event.volume_mb > 1')
    assert expr.equalities == {
        ("event", "service"): frozenset({"data"}),
        ("event", "zone"): frozenset({"home"}),
        ("event", "slice"): frozenset({"embb", Decimal("1.5")}),
    }
    assert compile_expression('a == 1 or b == 2').equalities == {}


def test_seen_reports_values_read() -> None:
    expr = compile_expression("event.zone == 'home' and event.volume_mb > 10")
    assert expr.seen(CTX) == {"event.zone": "home", "event.volume_mb": 1500}


def test_no_builtins_reachable() -> None:
    # even a name such as `print` is a context lookup, never Python's builtin
    assert compile_expression("print")({"print": 7}) == 7
    with pytest.raises(EvaluationError, match="print is missing"):
        compile_expression("print")({})


# -- fuzzing ----------------------------------------------------------------------------------

_ATOMS = st.sampled_from(["x", "y", "event.a", "1", "2.5", "0", '"s"', "None", "True",
                          "len(x)", "x[0]", "__class__", "x.__dict__", "()", "[]", "{}"])
_OPS = st.sampled_from([" + ", " - ", " * ", " / ", " // ", " % ", " ** ", " and ", " or ",
                        " == ", " < ", " in ", " not in ", " is ", " if 1 else ", ".", ",",
                        "(", ")", "[", "]", ":", " lambda ", " for ", "!", "@", "\n"])


@settings(max_examples=250, deadline=None)
@given(st.lists(st.one_of(_ATOMS, _OPS), min_size=1, max_size=12).map("".join))
def test_fuzz_only_our_errors(source: str) -> None:
    """Random token soup: compiling raises ExpressionError or gives a callable whose
    evaluation returns or raises a telcoflow error, nothing else."""
    try:
        expr = compile_expression(source)
    except ExpressionError:
        return
    with contextlib.suppress(TelcoflowError):
        expr({"x": [1, 2], "y": 3, "event": {"a": Decimal("1.5")}})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_arbitrary_text(source: str) -> None:
    try:
        expr = compile_expression(source)
    except ExpressionError:
        return
    with contextlib.suppress(TelcoflowError):
        expr({})


_NUM = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False,
                   allow_infinity=False)


@st.composite
def _arith(draw: st.DrawFn, depth: int = 0) -> tuple[str, Decimal]:
    if depth > 3 or draw(st.booleans()):
        n = draw(_NUM)
        return (f"({n})", n)
    op = draw(st.sampled_from(["+", "-", "*"]))
    left, lv = draw(_arith(depth + 1))
    right, rv = draw(_arith(depth + 1))
    value = lv + rv if op == "+" else lv - rv if op == "-" else lv * rv
    return (f"({left} {op} {right})", value)


@settings(max_examples=200, deadline=None)
@given(_arith())
def test_fuzz_arithmetic_matches_decimal(case: tuple[str, Decimal]) -> None:
    """Generated arithmetic equals the same arithmetic done directly on Decimals."""
    source, expected = case
    assert compile_expression(source)({}) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(-5, 5), st.integers(-5, 5), st.sampled_from(["<", "<=", ">", ">=", "==",
                                                                  "!="]))
def test_fuzz_comparisons_match_python(a: int, b: int, op: str) -> None:
    expected = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b,
                "!=": a != b}[op]
    assert compile_expression(f"v.a {op} v.b")({"v": {"a": a, "b": b}}) is expected


def test_generated_code_comes_from_our_tree() -> None:
    """The compiled function's code object holds only names we generate."""
    expr = compile_expression("event.amount * 1.08 > 10 and event.zone in ['a', 'b']")
    code = expr.fn.__code__
    # every global the code reads is one we bound (helpers and constants start with "_");
    # context names are string constants, never Python names
    assert all(name.startswith("_") for name in code.co_names)
    assert set(code.co_names) <= set(expr.fn.__globals__)
    assert expr.fn.__globals__["__builtins__"] == {}
    assert code.co_varnames[:1] == ("ctx",)
    assert isinstance(ast.parse("event.amount", mode="eval"), ast.Expression)
