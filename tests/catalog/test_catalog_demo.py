"""The catalog demo: deterministic, prices with the catalog, prints readable tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from telcoflow.demo.catalog import default_catalog_path, run_catalog_demo
from telcoflow.errors import DefinitionError
from telcoflow.money import Money


def test_default_catalog_path_finds_the_repository_example(repo_root: Path) -> None:
    assert default_catalog_path() == repo_root / "examples" / "catalog"


def test_demo_is_deterministic_and_consistent() -> None:
    printed: list[str] = []
    first = run_catalog_demo(events=14, seed=7, out=printed.append)
    second = run_catalog_demo(events=14, seed=7, out=lambda _text: None)
    assert [e.rated for e in first.events] == [e.rated for e in second.events]
    assert len(first.events) == 14
    # every service of the generator appears in 14 events (7 kinds, cycled)
    assert {e.service for e in first.events} == {"data", "voice", "sms", "slice", "units"}
    # usage total is the sum of the events; the bill adds plan 50.00 + video 10.00 - coupon 6.00
    total = Money.sum((e.rated.amount for e in first.events), "EUR")
    assert first.usage_total == total
    assert first.bill is not None
    assert first.bill.discount_total == Money("6.00", "EUR")
    assert first.bill.total == first.bill.subtotal - Money("6.00", "EUR") + first.bill.tax_total
    (text,) = printed
    assert "Rated usage in EUR" in text
    assert "ev-014" in text
    assert "Sample bill in EUR" in text
    assert str(first.bill.total.amount) in text
    other = run_catalog_demo(events=14, seed=8, out=lambda _text: None)
    assert [e.rated for e in other.events] != [e.rated for e in first.events]


def test_demo_on_a_missing_catalog_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"no \*\.yaml"):
        run_catalog_demo(tmp_path, events=1, out=lambda _text: None)
