"""The shipped files (demo catalog and close policy, audit packs, journeys) are found in a
source checkout and in a wheel's data files, and the wheel carries every one the code asks
for."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

import telcoflow.shipped as shipped
from telcoflow.demo import default_close_policy_path
from telcoflow.demo.catalog import default_catalog_path
from telcoflow.errors import DefinitionError
from telcoflow.ops.audits import shipped_pack

REPO = Path(__file__).resolve().parent.parent
ASKED = ["examples/close/close-policy.yaml", "rules/audits/balance.rules.yaml",
         "rules/audits/reconciliation.rules.yaml",
         "rules/audits/floating.rules.yaml", "examples/catalog/catalog.yaml"]


def test_the_defaults_are_the_repository_files_in_a_checkout() -> None:
    assert default_close_policy_path() == REPO / "examples/close/close-policy.yaml"
    assert default_catalog_path() == REPO / "examples/catalog"
    assert shipped_pack("floating") == REPO / "rules/audits/floating.rules.yaml"


def test_an_installed_wheel_finds_its_data_files(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = tmp_path / "venv"
    policy = prefix / "share/telcoflow/examples/close/close-policy.yaml"
    policy.parent.mkdir(parents=True)
    policy.write_text("kind: close-policy\n", encoding="utf-8")
    monkeypatch.setattr(shipped, "_REPO", tmp_path / "no-checkout")
    monkeypatch.setattr(shipped.sysconfig, "get_path", lambda name: str(prefix))
    monkeypatch.chdir(tmp_path)
    assert default_close_policy_path() == policy


def test_nowhere_is_a_located_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipped, "_REPO", tmp_path / "no-checkout")
    monkeypatch.setattr(shipped.sysconfig, "get_path", lambda name: str(tmp_path / "venv"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DefinitionError) as caught:
        shipped_pack("balance")
    text = str(caught.value)
    assert "rules/audits/balance.rules.yaml" in text
    assert str(tmp_path / "venv" / "share" / "telcoflow") in text
    assert caught.value.problems[0].code == "E-shipped-missing"


@pytest.mark.parametrize("relative", ASKED)
def test_the_wheel_carries_what_the_code_asks_for(relative: str) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (the project's CI runs 3.11)
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    data_files: dict[str, list[str]] = config["tool"]["setuptools"]["data-files"]
    target = f"share/telcoflow/{Path(relative).parent.as_posix()}"
    assert target in data_files, f"no data-files entry installs into {target}"
    assert any(fnmatch.fnmatch(relative, pattern) for pattern in data_files[target])
    assert (REPO / relative).is_file()
