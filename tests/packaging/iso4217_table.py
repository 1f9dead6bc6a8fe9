"""The vendored ISO 4217 table (``src/telcoflow/data/iso4217.json``) and its source.

The table of minor units is generated from the ``iso4217`` package (the ISO 4217 maintenance
agency's published list, as data); run this module to regenerate it after a new ISO
amendment (``pip install -U iso4217`` first)::

    .venv/bin/python tests/packaging/iso4217_table.py

``tests/packaging/test_iso4217_table.py`` fails when the vendored file and the installed
source disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import iso4217

VENDORED = Path(__file__).resolve().parents[2] / "src/telcoflow/data/iso4217.json"


def table_from_source() -> dict[str, Any]:
    """The vendored file's content, built from the installed ``iso4217`` package."""
    units = {c.code: c.exponent for c in iso4217.Currency if c.exponent is not None}
    return {
        "source": "ISO 4217 list one (current currencies), via the iso4217 package",
        "source_version": iso4217.__version__,
        "published": iso4217.__published__.isoformat(),
        "note": "currencies whose minor unit is N.A. (gold, SDR, XTS...) are left out",
        "minor_units": dict(sorted(units.items())),
    }


def render(table: dict[str, Any]) -> str:
    """The file's text: indented JSON, one currency a line, a final newline."""
    return json.dumps(table, indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    VENDORED.write_text(render(table_from_source()), encoding="utf-8")
    print(f"wrote {VENDORED}")
