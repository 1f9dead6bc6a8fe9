"""YAML loading: the shipped example, multi-file merge, and located errors (all of them)."""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest

from telcoflow.catalog import GraduatedPrice, UsagePrice
from telcoflow.errors import DefinitionError
from telcoflow.loading.catalog import load_catalog, parse_catalog
from telcoflow.money import Money
from telcoflow.rating.discounts import ChargeLine
from telcoflow.rating.price_models import compile_tariffs
from telcoflow.rating.settle import settle

HEADER = "kind: catalog\ncurrency: EUR\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_example_catalog_validates(repo_root: Path) -> None:
    catalog = load_catalog(repo_root / "examples" / "catalog")
    assert catalog.id == "nova5g"
    assert catalog.currency == "EUR"
    ids = {o.id for o in catalog.offerings}
    assert {"prepaid-go", "postpaid-50", "family-share", "stadium-slice-pass",
            "video-plus"} <= ids
    assert {z.id for z in catalog.zones} == {"home", "roam-eu", "roam-world"}
    assert [b.id for b in catalog.bands] == ["holiday", "weekend", "peak", "offpeak"]
    assert {s.kind for s in catalog.slice_classes} == {"eMBB", "URLLC", "mMTC"}
    assert catalog.discount_for_coupon("WELCOME6") is not None
    # the two offering versions resolve by date
    assert catalog.offering("postpaid-50", on=date(2026, 3, 1)).version == 1
    # the data tariff is the worked example: 65 GB graduated = 33.00
    tariffs = compile_tariffs(catalog)
    assert isinstance(catalog.tariff("data").price, GraduatedPrice)
    assert tariffs["data"].rate(65_000, zone="home").amount == Money("33.00", "EUR")
    # voice: 61 s on a weekday peak = 90 s = 1.5 min x 0.12 = 0.18
    assert tariffs["voice"].rate(61, zone="home", band="peak").amount == Money("0.18", "EUR")
    # taxes: telecom 8 %, digital 6 %: the coupon worked example on the shipped catalog
    lines = [ChargeLine("plan", Money("50.00", "EUR"), tax_category="telecom"),
             ChargeLine("video", Money("10.00", "EUR"), tax_category="digital")]
    coupon = catalog.discount_for_coupon("WELCOME6")
    assert coupon is not None
    result = settle(lines, catalog, discounts=[coupon])
    assert (result.tax_total, result.total) == (Money("4.14", "EUR"), Money("58.14", "EUR"))


def test_catalog_spans_several_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", HEADER + "zones:\n  - {id: home, kind: home}\n")
    _write(tmp_path, "b.yml", "kind: catalog\ntariffs:\n"
           "  - id: sms\n    service: sms\n    unit: message\n"
           "    price: {model: per_unit, unit_price: 0.08}\n"
           "    rates: [{id: home, zones: [home], price: {model: per_unit, unit_price: 0.05}}]\n")
    _write(tmp_path, "notes.txt", "not yaml, ignored")
    catalog = load_catalog(tmp_path)
    assert catalog.tariff("sms").rates[0].zones == ("home",)  # reference across files
    assert catalog.tariff("sms").price.unit_price == Decimal("0.08")  # type: ignore[union-attr]


def test_duplicate_ids_across_files_are_located(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", HEADER + "zones:\n  - id: home\n    kind: home\n")
    b = _write(tmp_path, "b.yaml", "kind: catalog\nzones:\n  - id: roam\n  - id: home\n")
    with pytest.raises(DefinitionError) as info:
        load_catalog(a, b)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column) == (str(b), 4, 5)
    assert problem.path == "$.zones[1].id"
    assert problem.code == "E-catalog-duplicate-id"
    assert f"duplicate id 'home' in zones (see {a}:4:5)" in problem.message


def test_conflicting_currency_and_missing_currency(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", HEADER)
    b = _write(tmp_path, "b.yaml", "kind: catalog\ncurrency: USD\n")
    with pytest.raises(DefinitionError, match=r"b\.yaml:2:1 \(\$\.currency\): `currency` is 'USD' "
                       r"here but 'EUR' in .*a\.yaml:2:1"):
        load_catalog(a, b)
    with pytest.raises(DefinitionError, match=r"no file sets the catalog `currency`"):
        parse_catalog("kind: catalog\n")


BAD = """\
kind: catalog
currency: EUR
zones:
  - id: home
    kind: home
    kind: roaming
tariffs:
  - id: voice
    service: voice
    unit: second
    price: {model: per_unit, unit_price: -1}
  - id: data
    service: data
    unit: MB
    price: {model: tiered, unit_price: 1}
    colour: blue
offerings:
  - id: x
    version: two
    prices:
      - {price_type: usage, id: u}
"""


def test_bad_file_reports_every_mistake_located(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.yaml", BAD)
    with pytest.raises(DefinitionError) as info:
        load_catalog(path)
    problems = info.value.problems
    found = {(p.line, p.column, p.path, p.code) for p in problems}
    assert found == {
        (6, 5, "$.zones[0].kind", "E-yaml-duplicate-key"),
        (11, 30, "$.tariffs[0].price.unit_price", "E-greater_than_equal"),
        (15, 5, "$.tariffs[1].price", "E-union_tag_invalid"),
        (16, 5, "$.tariffs[1].colour", "E-extra_forbidden"),
        (19, 5, "$.offerings[0].version", "E-int_parsing"),
        (21, 9, "$.offerings[0].prices[0]", "E-missing"),
    }
    assert all(p.file == str(path) for p in problems)
    text = str(info.value)
    assert text.startswith("6 problems found")
    # expected and found, in the message
    assert "duplicate key 'kind' (first defined on line 5)" in text
    assert re.search(r"bad\.yaml:11:30 \(\$\.tariffs\[0\]\.price\.unit_price\): "
                     r"Input should be greater than or equal to 0 \(found -1\)", text)
    assert "'tiered'" in text and "'per_unit'" in text  # noqa: PT018 - found and expected tags
    assert "unknown field `colour`" in text
    assert "missing required field `tariff`" in text


def test_unknown_references_are_located_and_all_reported() -> None:
    text = HEADER + (
        "offerings:\n"
        "  - id: plan\n"
        "    allowances: [data-1gb]\n"
        "    prices:\n"
        "      - {price_type: usage, id: data, tariff: data}\n"
        "      - {price_type: recurring, id: fee, amount: 5, tax_category: telecom}\n"
    )
    with pytest.raises(DefinitionError) as info:
        parse_catalog(text, "cat.yaml")
    assert [str(p) for p in info.value.problems] == [
        "cat.yaml:5:18 ($.offerings[0].allowances[0]): unknown allowance 'data-1gb' "
        "(expected one of: none defined) [E-catalog-unknown-ref]",
        "cat.yaml:7:39 ($.offerings[0].prices[0].tariff): unknown tariff 'data' "
        "(expected one of: none defined) [E-catalog-unknown-ref]",
        "cat.yaml:8:53 ($.offerings[0].prices[1].tax_category): unknown tax category "
        "'telecom' (expected one of: none defined) [E-catalog-unknown-ref]",
    ]


def test_on_off_stay_strings() -> None:
    catalog = parse_catalog(HEADER + "bands:\n  - id: on\n  - id: off\nzones:\n  - id: yes\n")
    assert [b.id for b in catalog.bands] == ["on", "off"]
    assert catalog.zones[0].id == "yes"


def test_unquoted_times_are_times() -> None:
    # issue #18: YAML 1.2 has no base-60 numbers, so an unquoted 20:00 is the text "20:00"
    # (YAML 1.1 read it as 20*60 = 1200); a bare number is still explained
    catalog = parse_catalog(HEADER + "bands:\n  - {id: night, start: 20:00, end: '08:00'}\n")
    assert catalog.bands[0].start == time(20, 0)
    with pytest.raises(DefinitionError, match=r"as HH:MM, .* \(found the number 1200\)"):
        parse_catalog(HEADER + "bands:\n  - {id: night, start: 1200, end: '08:00'}\n")


def test_syntax_error_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"x\.yaml:3:1: YAML syntax error"):
        parse_catalog("kind: catalog\nzones: [a\n", "x.yaml")
    with pytest.raises(DefinitionError, match="cannot read file"):
        load_catalog(tmp_path / "missing.yaml")
    with pytest.raises(DefinitionError, match=r"no \*\.yaml or \*\.yml file found"):
        load_catalog(tmp_path)
    with pytest.raises(DefinitionError, match=r"Input should be 'catalog'"):
        parse_catalog("kind: rulepack\ncurrency: EUR\n")


def test_usage_price_points_at_tariff() -> None:
    catalog = parse_catalog(HEADER + (
        "tariffs:\n  - {id: sms, service: sms, unit: message,"
        " price: {model: per_unit, unit_price: 0.1}}\n"
        "offerings:\n  - id: p\n    prices: [{price_type: usage, id: u, tariff: sms}]\n"))
    price = catalog.offering("p").prices[0]
    assert isinstance(price, UsagePrice)
    assert catalog.tariff(price.tariff).price.unit_price == Decimal("0.1")  # type: ignore[union-attr]


def test_kind_dispatch_validates_catalog_files(repo_root: Path, tmp_path: Path) -> None:
    from telcoflow.loading.catalog import load_catalog_files

    files = sorted((repo_root / "examples" / "catalog").glob("*.yaml"))
    assert load_catalog_files(files).id == "nova5g"
    bad = _write(tmp_path, "bad.yaml", HEADER + "zones:\n  - {id: z, colour: red}\n")
    with pytest.raises(DefinitionError, match=r"bad\.yaml:4:13 \(\$\.zones\[0\]\.colour\)"):
        load_catalog_files([bad])
