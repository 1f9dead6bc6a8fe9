"""TM Forum exports against the official v4.0.0 definitions (issue #18, item 1).

Every TMF document of the demo (``telcoflow demo``'s defaults: 200 accounts, seed 7) is
validated: each TMF678 CustomerBill it writes under ``bills/`` and the TMF635 Usage of each
record its real-time run rates. 0 violations, open and closed (see ``tmf_validation``).
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tmf_validation import FORMATS, official, violations

from telcoflow.billing.documents import tmf_json, usage_to_tmf635_json
from telcoflow.events import Charge, RatedRecord


def _parse(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def test_the_validator_checks_formats_and_undeclared_properties() -> None:
    # the format checker really checks date-time (rfc3339-validator installed): without it
    # "dates where the schema wants date-times" would pass unseen
    assert "date-time" in FORMATS.checkers
    assert not FORMATS.conforms("2026-12-01", "date-time")
    assert not FORMATS.conforms("2026-11-10T12:00:00", "date-time")  # no zone
    assert FORMATS.conforms("2026-11-10T12:00:00+00:00", "date-time")
    # the vendored files are the v4.0.0 swagger 2.0 documents
    assert official("TMF678")["info"]["version"] == "4.0.0"
    assert official("TMF635")["info"]["version"] == "4.0.0"
    # what the old exports did, each caught (one document per defect)
    base = {"id": "b1", "@type": "CustomerBill"}
    found = list(violations({**base, "amountDue": {"unit": "EUR", "value": "12.30"}}))
    assert any("'12.30' is not of type 'number'" in v for v in found)
    found = list(violations({**base, "billDate": "2026-12-01"}))
    assert any("is not a 'date-time'" in v for v in found)
    found = list(violations({**base, "@documentKind": "bill"}))
    assert any("closed CustomerBill: $: Additional properties" in v for v in found)
    usage = {"id": "u1", "@type": "Usage", "relatedParty": [{"id": "A", "role": "customer"}]}
    assert any("'@referredType' is a required property" in v for v in violations(usage))
    # an extension may add only what its schema declares, at any depth
    record = RatedRecord("e1", "usage", "A", "S", "2026-11-01", "EUR",
                         [Charge("data", Decimal("1.00"), Decimal(20))],
                         datetime(2026, 11, 3, 8), "data", Decimal(20))
    doc = _parse(usage_to_tmf635_json(record))
    assert list(violations(doc)) == []
    doc["ratedProductUsage"][0]["currencyCode"] = "EUR"
    assert any("closed TelcoflowUsage: $.ratedProductUsage[0]: Additional properties" in v
               for v in violations(doc))


def test_usage_of_a_rated_record_validates_with_numbers_zones_and_one_rate_convention() -> None:
    # 20 % tax on 0.50 of data -> 0.10; a zoned start keeps its zone
    at = datetime(2026, 11, 3, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    charge = Charge("data", Decimal("0.50"), Decimal(10), tax=Decimal("0.1000"),
                    tax_rate=Decimal("0.20"), shares=[("A", Decimal("0.50"), Decimal("0.1000"))])
    record = RatedRecord("e2", "usage", "A", "S", "2026-11-01", "EUR", [charge], at, "data",
                         Decimal(10))
    text = usage_to_tmf635_json(record)
    doc = _parse(text)
    assert list(violations(doc)) == []
    rated = doc["ratedProductUsage"][0]
    assert '"taxRate":0.20' in text  # a number, a fraction (the TMF678 export's convention)
    assert rated["taxIncludedRatingAmount"] == {"value": Decimal("0.6000"), "unit": "EUR"}
    assert doc["usageDate"] == "2026-11-03T08:30:00+01:00"
    assert [p["@referredType"] for p in doc["relatedParty"]] == ["BillingAccount", "Subscriber"]


@settings(deadline=None, max_examples=60)
@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4,
                   allow_nan=False, allow_infinity=False))
def test_amounts_are_written_digit_for_digit(value: Decimal) -> None:
    # a JSON number, no float on the way: the text is the Decimal's own, and reads back equal
    text = tmf_json({"unit": "EUR", "value": value})
    assert text == '{"unit":"EUR","value":' + str(value) + "}"
    assert _parse(text)["value"] == value


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[RatedRecord]]:
    from telcoflow.demo import run_demo
    from telcoflow.demo.billing import run_billing_demo

    out = tmp_path_factory.mktemp("tmf") / "demo"
    run_demo(out_dir=out, echo=lambda _line: None)  # the CLI's defaults: 200 accounts, seed 7
    # the demo's real-time run again (same accounts and seed): the records it rates
    records: list[object] = []
    run_billing_demo(200, db_path=out.parent / "again.sqlite", out=io.StringIO(), seed=7,
                     records=records)
    return out, [r for r in records if isinstance(r, RatedRecord)]


@pytest.mark.slow
def test_every_customer_bill_the_demo_writes_is_valid(
    demo: tuple[Path, list[RatedRecord]],
) -> None:
    out, _records = demo
    files = sorted((out / "bills").glob("*.json"))
    assert len(files) > 100  # the issue counted 158 bills for this demo
    problems = [f"{path.name}: {v}" for path in files
                for v in violations(_parse(path.read_bytes()))]
    assert problems == []


@pytest.mark.slow
def test_every_usage_the_demo_rates_is_valid(demo: tuple[Path, list[RatedRecord]]) -> None:
    _out, records = demo
    assert len(records) > 10_000  # the issue counted 19,895 usage records
    problems: list[str] = []
    for record in records:
        problems.extend(violations(_parse(usage_to_tmf635_json(record)), quick=True))
        if len(problems) > 20:
            break
    assert problems == []
