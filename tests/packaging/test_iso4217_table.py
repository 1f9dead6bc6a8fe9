"""The vendored ISO 4217 minor-unit table equals its maintained source (the iso4217 package),
and money reads its exponents from it."""

from __future__ import annotations

import json

from iso4217_table import VENDORED, render, table_from_source

from telcoflow.money import Currency


def test_the_vendored_table_is_the_source_table() -> None:
    vendored = json.loads(VENDORED.read_text(encoding="utf-8"))
    source = table_from_source()
    assert vendored["minor_units"] == source["minor_units"], (
        "ISO 4217 changed: run .venv/bin/python tests/packaging/iso4217_table.py")
    assert VENDORED.read_text(encoding="utf-8") == render(source)


def test_money_uses_the_vendored_exponents() -> None:
    units = json.loads(VENDORED.read_text(encoding="utf-8"))["minor_units"]
    assert (units["EUR"], units["JPY"], units["XOF"], units["BHD"], units["CLF"]) == (2, 0, 0, 3, 4)
    for code in ("EUR", "JPY", "XOF", "BHD", "CLF", "UGX"):
        assert Currency.of(code).exponent == units[code]
