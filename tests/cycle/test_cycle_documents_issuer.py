"""The issuer (the close policy's operator name, address, VAT number, payment details and
contact) on every bill format: HTML (as before), XML and TMF678 JSON (issue #18)."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from cycle_helpers import FAMILY_LINES, NOV, POLICY_YAML, family_account, population
from lxml import etree

from telcoflow.billing.cycle import (
    Bill,
    BillRunJob,
    Issuer,
    MemoryAccounts,
    MemoryLedger,
    bill_run,
    close_account,
    parse_close_policy,
)
from telcoflow.billing.documents import (
    BILL_NAMESPACE,
    StatementRenderer,
    bill_to_tmf678,
    render_bill_xml,
    validate_bill_xml,
)
from telcoflow.stores.sqlite import SQLiteBillStore

NS = {"b": BILL_NAMESPACE}
ISSUER_YAML = """\
issuer:
  name: Nova & <Mobile> Ltd
  address: ["1 Network Way", "London EC1A 1AA"]
  vat_id: GB123456789
  payment: ["IBAN GB00 EXMP 0000 0000 0000 00", "Reference: your bill number"]
  contact: billing@example.com
"""


@pytest.fixture
def issuer() -> Issuer:
    policy = parse_close_policy(POLICY_YAML + ISSUER_YAML, "policy.yaml")
    assert policy.issuer is not None
    return policy.issuer


@pytest.fixture
def bill() -> Bill:
    result = close_account(family_account(), FAMILY_LINES, NOV,
                           parse_close_policy(POLICY_YAML, "policy.yaml"))
    assert isinstance(result, Bill)
    return result


def test_the_xml_bill_carries_every_issuer_detail_and_validates(bill: Bill,
                                                                 issuer: Issuer) -> None:
    doc = render_bill_xml(bill, issuer=issuer)
    validate_bill_xml(doc)
    root = etree.fromstring(doc)
    (element,) = root.xpath("/b:bill/b:issuer", namespaces=NS)
    assert root.index(element) == 0  # before the account, as a letterhead
    assert element.xpath("string(b:name)", namespaces=NS) == "Nova & <Mobile> Ltd"  # escaped
    assert element.xpath("b:addressLine/text()", namespaces=NS) == ["1 Network Way",
                                                                    "London EC1A 1AA"]
    assert element.xpath("string(b:vatId)", namespaces=NS) == "GB123456789"
    assert element.xpath("b:payment/text()", namespaces=NS) == [
        "IBAN GB00 EXMP 0000 0000 0000 00", "Reference: your bill number"]
    assert element.xpath("string(b:contact)", namespaces=NS) == "billing@example.com"


def test_an_issuer_with_a_name_only_and_no_issuer_at_all_both_validate(bill: Bill) -> None:
    named = render_bill_xml(bill, issuer=Issuer(name="Nova"))
    validate_bill_xml(named)
    assert b"<issuer><name>Nova</name></issuer><account" in named
    plain = render_bill_xml(bill)
    validate_bill_xml(plain)
    assert b"<issuer>" not in plain
    assert plain == named.replace(b"<issuer><name>Nova</name></issuer>", b"")


def test_the_tmf678_bill_names_the_issuer_as_a_related_party(bill: Bill, issuer: Issuer) -> None:
    doc = bill_to_tmf678(bill, issuer=issuer)
    parties = doc["relatedParty"]
    assert parties[0] == {
        "id": "GB123456789", "name": "Nova & <Mobile> Ltd", "role": "issuer",
        "@referredType": "Organization", "@type": "TelcoflowIssuer",
        "@baseType": "RelatedParty",
        "@schemaLocation": "urn:telcoflow:schema:tmf678:TelcoflowCustomerBill:1"
                           "#/definitions/TelcoflowIssuer",
        "address": ["1 Network Way", "London EC1A 1AA"], "taxId": "GB123456789",
        "paymentDetail": ["IBAN GB00 EXMP 0000 0000 0000 00", "Reference: your bill number"],
        "contact": "billing@example.com"}
    # the payers are still there, after the issuer
    assert [p["id"] for p in parties[1:]] == ["CORP", "A"]
    assert bill_to_tmf678(bill)["relatedParty"] == parties[1:]
    # without a VAT number the issuer is known by its name
    assert bill_to_tmf678(bill, issuer=Issuer(name="Nova"))["relatedParty"][0]["id"] == "Nova"


def test_a_bill_run_writes_the_policy_issuer_on_xml_html_and_json(tmp_path: Path) -> None:
    accounts, lines = population(12)
    policy = parse_close_policy(POLICY_YAML + ISSUER_YAML, "policy.yaml")
    job = BillRunJob(NOV, policy, ledger=lambda: MemoryLedger(lines),
                     accounts=lambda: MemoryAccounts(accounts),
                     store=partial(SQLiteBillStore, tmp_path / "bills.db"),
                     formats=frozenset({"xml", "html", "json"}))
    summary = bill_run(job, processes=1, progress=False)
    assert summary.bills > 0
    store = SQLiteBillStore(tmp_path / "bills.db")
    account = "ACC000001"
    xml = store.document(NOV.key, account, "xml")
    html = store.document(NOV.key, account, "html")
    tmf = store.document(NOV.key, account, "json")
    assert xml is not None
    assert html is not None
    assert tmf is not None
    validate_bill_xml(xml)
    assert b"<vatId>GB123456789</vatId>" in xml
    assert "VAT number GB123456789" in html.decode("utf-8")
    parties = json.loads(tmf, parse_float=Decimal)["relatedParty"]
    assert parties[0]["taxId"] == "GB123456789"
    assert parties[0]["paymentDetail"][0] == "IBAN GB00 EXMP 0000 0000 0000 00"


def test_the_html_statement_and_the_xml_print_the_same_payment_lines(bill: Bill,
                                                                      issuer: Issuer) -> None:
    html = StatementRenderer(issuer=issuer).render(bill)
    root = etree.fromstring(render_bill_xml(bill, issuer=issuer))
    for line in root.xpath("//b:issuer/b:payment/text()", namespaces=NS):
        assert f"Payment: {line}" in html
