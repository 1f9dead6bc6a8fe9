"""The pydantic edge model (TMF635-shaped input) and the rated output shape."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as Dec

import pytest
from billing_world import make_billing
from pydantic import ValidationError

from telcoflow.errors import EventRejectedError
from telcoflow.events import UsageEvent, UsageEventIn, fingerprint

TMF = {
    "id": "cdr-1",
    "usageType": "data",
    "usageDate": "2026-11-10T12:00:00",
    "subscriber": "s-post",
    "account": "post",
    "usageCharacteristic": [
        {"name": "quantity", "value": "120"},
        {"name": "zone", "value": "home"},
        {"name": "slice", "value": "eMBB"},
        {"name": "ratingGroup", "value": 10},
    ],
}


def test_tmf635_usage_becomes_an_internal_event_and_is_rated() -> None:
    event = UsageEventIn.model_validate(TMF).to_event()
    assert event == UsageEvent("cdr-1", "s-post", "post", "data", datetime(2026, 11, 10, 12),
                               Dec(120), "MB", "home", "", "eMBB", "", "", 10)
    (rated,) = make_billing().process([event]).rated
    out = rated.to_tmf635()
    # 120 MB x 0.05 = 6.00 (the slice falls back to the zone's data tariff)
    # (issue #18: amounts are JSON numbers, held as exact Decimals; relatedParty says its type)
    assert out["ratedProductUsage"][0]["taxExcludedRatingAmount"] == {"value": Dec("6.00"),
                                                                      "unit": "EUR"}
    assert out["relatedParty"] == [
        {"role": "customer", "id": "post", "@referredType": "BillingAccount"},
        {"role": "subscriber", "id": "s-post", "@referredType": "Subscriber"}]


def test_edge_model_rejects_unknown_fields_and_missing_quantity() -> None:
    with pytest.raises(ValidationError, match="extra"):
        UsageEventIn.model_validate({**TMF, "colour": "blue"})
    no_quantity = {**TMF, "usageCharacteristic": [{"name": "zone", "value": "home"}]}
    with pytest.raises(EventRejectedError, match="`quantity` is required") as info:
        UsageEventIn.model_validate(no_quantity).to_event()
    assert info.value.reason == "invalid"
    assert info.value.event_id == "cdr-1"


def test_fingerprint_is_stable_and_payload_sensitive() -> None:
    a = UsageEvent("x", "s", "a", "data", datetime(2026, 11, 1, 1, 2, 3), Dec("1.0"))
    b = UsageEvent("x", "s", "a", "data", datetime(2026, 11, 1, 1, 2, 3), Dec("1.0"))
    c = UsageEvent("x", "s", "a", "data", datetime(2026, 11, 1, 1, 2, 4), Dec("1.0"))
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    # the same text in every process (no randomized hashing)
    assert fingerprint(a) == "df967620c8c20226878b"
