"""Issue #18 item 4: YAML 1.2 core schema in every YAML file telcoflow reads.

Each case failed on the base commit, whose loader kept PyYAML's YAML 1.1 number resolvers
(``18:00`` was 18*60 = 1080, ``010`` octal 8, ``12_000`` the int 12000).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from telcoflow.loading.source import parse_yaml
from telcoflow.money import NonDecimalInt


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:00", "18:00"),  # YAML 1.1: sexagesimal 18*60 + 0 = 1080
        ("1:20:30.5", "1:20:30.5"),  # YAML 1.1: float 1*3600 + 20*60 + 30.5 = 4830.5
        ("010", 10),  # YAML 1.1: octal 0o10 = 8
        ("0o10", 8),  # YAML 1.2 octal: 1*8 + 0 = 8
        ("0x10", 16),  # 1*16 + 0 = 16
        ("12_000", "12_000"),  # no digit separators in YAML 1.2
        ("0b101", "0b101"),  # no binary ints in YAML 1.2
        ("+12", 12),
        ("-7", -7),
        ("=", "="),  # YAML 1.1 "value" key type
        ("on", "on"),  # booleans as before: only true/false
        ("True", True),
        ("~", None),
        ("2026-01-31", date(2026, 1, 31)),  # dates kept (catalogs use them)
    ],
)
def test_core_schema_scalars(text: str, expected: object) -> None:
    doc = parse_yaml(f"v: {text}\n")
    assert doc.problems == []
    value = doc.data["v"]
    assert value == expected
    assert type(value) in (type(expected), NonDecimalInt)


def test_floats_stay_exact_decimals() -> None:
    doc = parse_yaml("a: 1.5e3\nb: 0.05\n")
    assert doc.data == {"a": Decimal("1500"), "b": Decimal("0.05")}
    assert isinstance(doc.data["b"], Decimal)


def test_hex_and_octal_remember_how_they_were_written() -> None:
    doc = parse_yaml("a: 0x1F\nb: 0o17\nc: 31\n")
    a, b, c = doc.data["a"], doc.data["b"], doc.data["c"]
    assert (a, b, c) == (31, 15, 31)  # 1*16 + 15 = 31; 1*8 + 7 = 15
    assert isinstance(a, NonDecimalInt)
    assert a.text == "0x1F"
    assert isinstance(b, NonDecimalInt)
    assert b.text == "0o17"
    assert type(c) is int


def test_a_band_start_written_1800_unquoted_is_a_time() -> None:
    from telcoflow.loading.catalog import parse_catalog

    catalog = parse_catalog(
        "kind: catalog\ncurrency: EUR\nbands:\n  - {id: evening, start: 18:00, end: 23:00}\n"
    )
    assert str(catalog.bands[0].start) == "18:00:00"
