"""Run the test cases written inside rule packs (``telcoflow test PATH``, the pytest plugin).

A case gives a context (or events, or charge lines) and expects values, matched rules,
fired stateful rules or an error; a failure lists every difference as
``path: expected X, got Y``.

Stateful cases run on every backend. One whose backend is not installed (durable-rules, the
``telcoflow[durable]`` extra) is reported as skipped with the reason, and counted; with
``TELCOFLOW_REQUIRE_DURABLE=1`` in the environment it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from telcoflow.errors import DefinitionError, TelcoflowError
from telcoflow.money import Money
from telcoflow.rating.settle import settle_with_pack
from telcoflow.rules.pack import PackTest, RulePack, is_pack_path, load_pack
from telcoflow.rules.stateful import StatefulEngine, durable_missing_reason

__all__ = [
    "BACKENDS",
    "REQUIRE_DURABLE_ENV",
    "CaseResult",
    "check_case",
    "compare",
    "find_packs",
    "run_pack_tests",
]

BACKENDS = ("python", "durable")
"""The backends stateful cases run on by default."""

REQUIRE_DURABLE_ENV = "TELCOFLOW_REQUIRE_DURABLE"
"""Set to ``1``: a stateful case whose durable backend is not installed fails (not skipped)."""


@dataclass(frozen=True)
class CaseResult:
    """The result of one test case of one pack (``backend`` for stateful cases).

    ``skipped`` is the reason a case did not run (its backend is not installed); such a case
    has ``passed`` False but is not :attr:`failed`.
    """

    pack: str
    name: str
    file: str
    line: int | None
    passed: bool
    failures: tuple[str, ...] = ()
    backend: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def failed(self) -> bool:
        """Ran and failed (a skipped case did not fail)."""
        return not self.passed and self.skipped is None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        tag = f" [{self.backend}]" if self.backend else ""
        if self.skipped is not None:
            return f"SKIP {self.pack}: {self.name}{tag} ({where}): skipped: {self.skipped}"
        head = f"{'PASS' if self.passed else 'FAIL'} {self.pack}: {self.name}{tag} ({where})"
        return "\n".join([head, *(f"    {f}" for f in self.failures)])


def find_packs(paths: str | Path | Sequence[str | Path]) -> Iterator[Path]:
    """Pack paths under ``paths``: pack folders (with pack.yaml) and ``*.rules.yaml`` files."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    for raw in items:
        p = Path(raw)
        if is_pack_path(p) or (p.is_file() and p.suffix in (".yaml", ".yml")):
            yield p
            continue
        if p.is_dir():
            for sub in sorted(p.iterdir()):
                if sub.is_dir() or sub.name.endswith((".rules.yaml", ".rules.yml")):
                    yield from find_packs(sub) if sub.is_dir() else [sub]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    return None


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def compare(expected: Any, actual: Any, path: str) -> list[str]:
    """Differences between ``expected`` and ``actual`` (mappings compare as subsets)."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path}: expected {_show(expected)}, got {_show(actual)}"]
        out: list[str] = []
        for k, v in expected.items():
            if k not in actual:
                have = ", ".join(str(x) for x in actual) or "nothing"
                out.append(f"{path}.{k}: expected {_show(v)}, missing (have: {have})")
            else:
                out.extend(compare(v, actual[k], f"{path}.{k}"))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            return [f"{path}: expected {_show(expected)}, got {_show(actual)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in compare(e, a, f"{path}[{i}]")]
    e_num, a_num = _number(expected), _number(actual)
    if e_num is not None and a_num is not None:
        equal = e_num == a_num
    elif e_num is not None and isinstance(actual, str):
        try:
            equal = Decimal(actual) == e_num
        except InvalidOperation:
            equal = False
    else:
        if isinstance(expected, bool) or isinstance(actual, bool):
            equal = expected is actual
        else:
            equal = bool(expected == actual)
    return [] if equal else [f"{path}: expected {_show(expected)}, got {_show(actual)}"]


def _lookup(values: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    head, _, rest = dotted.partition(".")
    if head not in values:
        return False, None
    cur = values[head]
    for part in rest.split(".") if rest else ():
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, (list, tuple)) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return False, None
    return True, cur


def _missing(pack: RulePack, test: PackTest, backend: str) -> CaseResult | None:
    """The result of a stateful case whose backend is not installed (None when it is)."""
    if backend != "durable":
        return None

    reason = durable_missing_reason()
    if reason is None:
        return None
    if os.environ.get(REQUIRE_DURABLE_ENV) == "1":
        return CaseResult(pack.name, test.name, test.file, test.line, False,
                          (f"{reason}; {REQUIRE_DURABLE_ENV}=1 requires it",), backend)
    return CaseResult(pack.name, test.name, test.file, test.line, False, (), backend,
                      skipped=reason)


def check_case(pack: RulePack, test: PackTest, *, backend: str = "python") -> CaseResult:
    """Run one test case of ``pack``; never raises for a failing case.

    A stateful case on a backend that is not installed is skipped (or failed, see the module
    docstring) and says why.
    """
    case = test.case
    if case.events is not None:
        missing = _missing(pack, test, backend)
        if missing is not None:
            return missing
    failures: list[str] = []
    values: dict[str, Any] = {}
    used_backend = None
    try:
        if case.events is not None:

            used_backend = backend
            engine = StatefulEngine(pack, backend)
            try:
                fired = [f.rule for ev in case.events for f in engine.process(ev)]
            finally:
                engine.close()
            if case.expect_fired is not None and fired != case.expect_fired:
                failures.append(f"fired: expected {case.expect_fired}, got {fired}")
        if case.lines is not None:
            values["settlement"] = settle_with_pack(pack, case.lines, case.context,
                                                    currency=case.currency).as_dict()
        if case.events is None and case.lines is None:
            trace = pack.explain(case.context)
            values.update(trace.values)
            if case.expect_matched is not None and trace.matched() != case.expect_matched:
                failures.append(f"matched: expected {case.expect_matched}, "
                                f"got {trace.matched()}")
    except TelcoflowError as exc:
        if case.expect_error is None:
            failures.append(f"unexpected error: {exc}")
        elif case.expect_error not in str(exc):
            failures.append(f"error: expected a message containing {case.expect_error!r}, "
                            f"got {str(exc)!r}")
    else:
        if case.expect_error is not None:
            failures.append(f"error: expected an error containing {case.expect_error!r}, "
                            "but the evaluation succeeded")
    if case.expect_error is None:
        for key, expected in case.expect.items():
            found, actual = _lookup(values, key)
            if not found:
                have = ", ".join(values) or "nothing"
                failures.append(f"{key}: expected {_show(expected)}, missing (have: {have})")
            else:
                failures.extend(compare(expected, actual, key))
    return CaseResult(pack.name, case.name, test.file, test.line, not failures,
                      tuple(failures), used_backend)


def run_pack_tests(path: str | Path | Sequence[str | Path], *,
                   backends: Sequence[str] | None = None) -> list[CaseResult]:
    """Load every pack under ``path`` and run its test cases.

    Stateful cases (with ``events``) run once per backend in ``backends`` (default:
    :data:`BACKENDS`, python and durable); on a backend that is not installed they are skipped
    with the reason (see the module docstring). A pack that does not load gives one failed
    result listing its problems.
    """
    if backends is None:
        backends = BACKENDS
    results: list[CaseResult] = []
    for p in find_packs(path):
        try:
            pack = load_pack(p)
        except DefinitionError as exc:
            results.append(CaseResult(p.name, "(load)", str(p), None, False,
                                      tuple(str(q) for q in exc.problems)))
            continue
        for test in pack.tests:
            if test.case.events is not None:
                results.extend(check_case(pack, test, backend=b) for b in backends)
            else:
                results.append(check_case(pack, test))
    return results
