"""The shipped files (example catalogs, close policy, journeys, rule packs) are package data:
found from any working directory, in a checkout as in a wheel (tests/packaging/test_wheel.py
loads them from an installed wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from telcoflow.demo import default_close_policy_path
from telcoflow.demo.catalog import default_catalog_path
from telcoflow.errors import DefinitionError
from telcoflow.loading.catalog import load_catalog
from telcoflow.ops.audits import shipped_pack
from telcoflow.shipped import shipped_path

REPO = Path(__file__).resolve().parents[2]


def test_in_a_checkout_the_defaults_are_the_repository_files() -> None:
    assert default_close_policy_path() == REPO / "examples/close/close-policy.yaml"
    assert default_catalog_path() == REPO / "examples/catalog"
    assert shipped_pack("floating") == REPO / "rules/audits/floating.rules.yaml"


def test_a_shipped_catalog_loads_from_any_directory(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = load_catalog(shipped_path("examples/catalog", directory=True))
    assert "Go prepaid" in {o.name for o in catalog.offerings}


def test_every_journey_and_rule_file_of_the_repository_is_shipped() -> None:
    for folder in ("journeys", "rules", "examples/catalog", "examples/catalog-5g",
                   "examples/close"):
        for file in sorted((REPO / folder).rglob("*.yaml")):
            relative = file.relative_to(REPO).as_posix()
            assert shipped_path(relative) == file, relative


def test_an_unknown_name_is_a_located_error() -> None:
    with pytest.raises(DefinitionError) as caught:
        shipped_path("rules/audits/nope.rules.yaml")
    text = str(caught.value)
    assert "rules/audits/nope.rules.yaml" in text
    assert "looked in" in text
    assert caught.value.problems[0].code == "E-shipped-missing"
    with pytest.raises(DefinitionError, match="ships no folder examples/nope"):
        shipped_path("examples/nope", directory=True)
