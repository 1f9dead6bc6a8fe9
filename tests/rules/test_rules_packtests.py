"""Pack test cases: the shipped packs pass, failures read well, the pytest plugin collects
only rule packs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from telcoflow.testing import run_pack_tests
from telcoflow.testing.packs import compare

ROOT = Path(__file__).resolve().parents[2]
OURS = ["rules/rating", "rules/discount-tax.rules.yaml", "rules/credit-control.rules.yaml",
        "rules/topups"]


@pytest.mark.parametrize("pack", OURS)
def test_shipped_packs_pass(pack: str) -> None:
    results = run_pack_tests(ROOT / pack)
    assert results, f"{pack} has no test cases"
    failed = [str(r) for r in results if r.failed]
    assert not failed, "\n".join(failed)


def test_discount_tax_pack_reproduces_the_issue_example() -> None:
    results = {r.name: r for r in run_pack_tests(ROOT / "rules/discount-tax.rules.yaml")}
    assert results["coupon spread pro rata before tax (issue example)"].passed


FAILING = """\
kind: rule-pack
name: failing
decisions:
  - name: d
    rules: [{id: r, if: e.x > 1, then: {v: big, n: 2}}]
tests:
  - name: wrong value
    context: {e: {x: 2}}
    expect: {d: {v: small, n: 2.0}}
  - name: right value
    context: {e: {x: 2}}
    expect: {d.v: big, d.n: 2.00}
  - name: wrong match list
    context: {e: {x: 2}}
    expect_matched: [d/other]
  - name: expects an error that does not come
    context: {e: {x: 2}}
    expect_error: missing
"""


def test_failures_are_readable(tmp_path: Path) -> None:
    path = tmp_path / "failing.rules.yaml"
    path.write_text(FAILING)
    results = {r.name: r for r in run_pack_tests(path)}
    assert results["wrong value"].failures == ("d.v: expected 'small', got 'big'",)
    assert results["right value"].passed                 # 2 == 2.00 as numbers
    assert results["wrong match list"].failures == (
        "matched: expected ['d/other'], got ['d/r']",)
    assert "but the evaluation succeeded" in results["expects an error that does not come"] \
        .failures[0]
    assert str(results["wrong value"]).startswith("FAIL failing: wrong value (")


def test_a_pack_that_does_not_load_is_one_failure(tmp_path: Path) -> None:
    path = tmp_path / "broken.rules.yaml"
    path.write_text("kind: rule-pack\nname: broken\ndecisions: [{name: d, rules: "
                    "[{id: r, if: 'x ** 2', then: {}}]}]\n")
    [result] = run_pack_tests(path)
    assert not result.passed
    assert "broken.rules.yaml:3:44 " in result.failures[0]   # the `x` inside the quotes


def test_compare_semantics() -> None:
    assert compare({"a": 1}, {"a": 1, "b": 2}, "x") == []           # mappings: subset
    assert compare([1, 2], [1], "x") == ["x: expected [1, 2], got [1]"]
    assert compare(True, 1, "x") == ["x: expected True, got 1"]      # bools are not numbers
    assert compare(None, None, "x") == []


def test_pytest_plugin_collects_only_rule_packs(tmp_path: Path) -> None:
    (tmp_path / "failing.rules.yaml").write_text(FAILING)
    (tmp_path / "other.yaml").write_text("kind: something-else\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir",
         str(tmp_path), str(tmp_path / "failing.rules.yaml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert "3 failed, 1 passed" in out
    assert "rule-pack test 'wrong value' failed" in out
    assert "d.v: expected 'small', got 'big'" in out
    # a directory that is not under the project's rules/ folder is not collected, nor is
    # other YAML
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir",
         str(tmp_path), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "no tests ran" in proc.stdout
