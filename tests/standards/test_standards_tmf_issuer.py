"""The TMF678 bill's issuer (a ``TelcoflowIssuer`` related party) is valid against the official
v4.0.0 definitions and telcoflow's extension schema, open and closed (issue #18)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from tmf_validation import violations

from telcoflow.billing.cycle import (
    Bill,
    BillCycle,
    BillingAccount,
    Issuer,
    close_account,
    load_close_policy,
)
from telcoflow.billing.documents import bill_to_tmf678_json, extension_schema
from telcoflow.ledger import LedgerLine

NOV = BillCycle.for_month(1, 2026, 11)


@pytest.fixture(scope="module")
def shipped() -> tuple[Bill, Issuer]:
    """A bill closed with the shipped demo close policy, and that policy's issuer."""
    from telcoflow.demo import default_close_policy_path

    policy = load_close_policy(default_close_policy_path())
    assert policy.issuer is not None
    account = BillingAccount(account_id="A1", name="Ada", currency="EUR")
    lines = [LedgerLine("A1", "S1", "data", NOV.key, "EUR", Decimal("12.50"), Decimal(250))]
    bill = close_account(account, lines, NOV, policy)
    assert isinstance(bill, Bill)
    return bill, policy.issuer


def _doc(bill: Bill, issuer: Issuer | None) -> Any:
    return json.loads(bill_to_tmf678_json(bill, issuer=issuer), parse_float=Decimal)


def test_a_bill_with_the_shipped_issuer_has_no_violation(shipped: tuple[Bill, Issuer]) -> None:
    bill, issuer = shipped
    doc = _doc(bill, issuer)
    assert doc["relatedParty"][0]["role"] == "issuer"
    assert doc["relatedParty"][0]["address"] == list(issuer.address)
    assert list(violations(doc)) == []


@pytest.mark.parametrize("issuer", [Issuer(name="Nova"),
                                    Issuer(name="Nova", contact="c@example.com")])
def test_a_sparse_issuer_has_no_violation(shipped: tuple[Bill, Issuer], issuer: Issuer) -> None:
    assert list(violations(_doc(shipped[0], issuer))) == []


@pytest.mark.parametrize(("change", "where"), [
    ({"iban": "GB00"}, "$.relatedParty[0]"),          # a property nobody declares
    ({"address": "1 Network Way"}, "$.relatedParty[0]"),  # address lines are a list
    ({"@type": "Issuer"}, "$.relatedParty[0]"),       # only the declared sub-class
])
def test_the_schemas_refuse_an_issuer_that_strays(shipped: tuple[Bill, Issuer],
                                                  change: dict[str, Any], where: str) -> None:
    bill, issuer = shipped
    doc = _doc(bill, issuer)
    doc["relatedParty"][0].update(change)
    found = list(violations(doc))
    assert found
    assert all(f": {where}:" in v for v in found), found


def test_the_extension_schema_declares_the_issuer_sub_class() -> None:
    schema = extension_schema("TelcoflowCustomerBill")
    issuer = schema["definitions"]["TelcoflowIssuer"]
    assert issuer["allOf"][0]["$ref"].endswith("#/definitions/RelatedPartyRef")
    assert set(issuer["properties"]) >= {"address", "taxId", "paymentDetail", "contact"}
