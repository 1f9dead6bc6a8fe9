"""pytest plugin: collect the test cases written inside telcoflow rule packs.

Registered through the ``pytest11`` entry point. It collects ``*.rules.yaml`` files and
``pack.yaml`` (rule-pack folders) only when they are passed explicitly on the command line
(``pytest rules/rating.rules.yaml``) or lie under the ``rules/`` folder at the root of the
project (``pytest rules``); other YAML is never touched. Each test case becomes one item
(stateful cases one per backend; one whose backend is not installed is skipped with the
reason, or fails under ``TELCOFLOW_REQUIRE_DURABLE=1``); a failure shows every difference as
``path: expected X, got Y``.

This module imports only pytest at import time, so loading the plugin costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from telcoflow.errors import PackCaseFailedError  # re-exported: defined in errors.py

if TYPE_CHECKING:
    from telcoflow.rules.pack import PackTest, RulePack


DURABLE_MARKER = "durable_rules"
"""Tests that need durable-rules (``@pytest.mark.durable_rules``): skipped with the reason when
it is not installed, failed under ``TELCOFLOW_REQUIRE_DURABLE=1``; select them with
``-m durable_rules``. Durable pack cases carry it too."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the :data:`DURABLE_MARKER` marker."""
    config.addinivalue_line(
        "markers", f"{DURABLE_MARKER}: needs durable-rules (pip install telcoflow[durable]); "
        "skipped when missing, failed under TELCOFLOW_REQUIRE_DURABLE=1")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or fail, when required) a durable test where durable-rules is not installed."""
    if item.get_closest_marker(DURABLE_MARKER) is None:
        return
    from telcoflow.rules.stateful import durable_missing_reason
    from telcoflow.testing.packs import REQUIRE_DURABLE_ENV

    reason = durable_missing_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_DURABLE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_DURABLE_ENV}=1 requires it", pytrace=False)
    pytest.skip(f"skipped: {reason}")


def _is_pack_file(path: Path) -> bool:
    return path.name.endswith((".rules.yaml", ".rules.yml")) or path.name == "pack.yaml"


def _wanted(path: Path, config: pytest.Config) -> bool:
    resolved = path.resolve()
    for arg in config.invocation_params.args:
        text = str(arg).split("::")[0]
        if not text or text.startswith("-"):
            continue
        candidate = (config.invocation_params.dir / text).resolve()
        if candidate == resolved:
            return True
    rules_dir = (config.rootpath / "rules").resolve()
    return resolved.is_relative_to(rules_dir)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect rule packs (see the module docstring for which files)."""
    if not _is_pack_file(file_path) or not _wanted(file_path, parent.config):
        return None
    if file_path.name != "pack.yaml" and (file_path.parent / "pack.yaml").is_file():
        return None  # a part of a folder pack: collected with its pack.yaml
    return RulePackFile.from_parent(parent, path=file_path)




class RulePackFile(pytest.File):
    """One rule pack (a ``*.rules.yaml`` file or a folder's ``pack.yaml``)."""

    def collect(self) -> Iterator[pytest.Item]:
        """One item per test case (stateful cases: one per backend)."""
        from telcoflow.errors import DefinitionError
        from telcoflow.rules.pack import load_pack
        from telcoflow.testing.packs import BACKENDS

        target = self.path.parent if self.path.name == "pack.yaml" else self.path
        try:
            pack = load_pack(target)
        except DefinitionError as exc:
            raise self.CollectError(f"rule pack {target} does not load:\n{exc}") from None
        for test in pack.tests:
            if test.case.events is not None:
                for b in BACKENDS:
                    item = PackCaseItem.from_parent(self, name=f"{test.name}[{b}]", pack=pack,
                                                    test=test, backend=b)
                    if b == "durable":
                        item.add_marker(DURABLE_MARKER)
                    yield item
            else:
                yield PackCaseItem.from_parent(self, name=test.name, pack=pack, test=test,
                                               backend="python")


class PackCaseItem(pytest.Item):
    """One test case of a rule pack."""

    def __init__(self, *, pack: RulePack, test: PackTest, backend: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pack = pack
        self.test = test
        self.backend = backend

    def runtest(self) -> None:
        """Run the case; raise :class:`PackCaseFailedError` with the differences."""
        from telcoflow.testing.packs import check_case

        result = check_case(self.pack, self.test, backend=self.backend)
        if result.skipped is not None:
            pytest.skip(f"skipped: {result.skipped}")
        if not result.passed:
            raise PackCaseFailedError("\n".join(result.failures))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        """The differences, one per line, under the case's location."""
        if isinstance(excinfo.value, PackCaseFailedError):
            where = f"{self.test.file}:{self.test.line}"
            lines = str(excinfo.value).splitlines()
            return "\n".join([f"rule-pack test {self.test.name!r} failed ({where}):",
                              *(f"  {ln}" for ln in lines)])
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the case is written."""
        line = self.test.line - 1 if self.test.line else None
        return self.path, line, f"rule-pack case: {self.test.name}"
