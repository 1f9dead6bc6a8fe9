"""Bill documents: XML valid against the shipped XSD, HTML statements, TMF678 JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from cycle_helpers import FAMILY_LINES, NOV, family_account
from lxml import etree

from telcoflow.billing.cycle import Bill, ClosePolicy, close_account
from telcoflow.billing.documents import (
    BILL_NAMESPACE,
    TMF678_BILL_SCHEMA,
    BillDocumentError,
    StatementRenderer,
    bill_to_tmf678,
    bill_to_tmf678_json,
    format_date,
    format_money,
    render_bill_xml,
    validate_bill_xml,
)

D = Decimal
NS = {"b": BILL_NAMESPACE}


@pytest.fixture
def bill(policy: ClosePolicy) -> Bill:
    result = close_account(family_account(), FAMILY_LINES, NOV, policy)
    assert isinstance(result, Bill)
    return result


def test_xml_validates_and_total_equals_lines(bill: Bill) -> None:
    doc = render_bill_xml(bill)
    validate_bill_xml(doc)  # raises on any XSD violation
    root = etree.fromstring(doc)
    gross = [D(t) for t in root.xpath("//b:line/b:gross/text()", namespaces=NS)]
    total = D(root.xpath("string(//b:totals/b:total)", namespaces=NS))
    assert total == D("64.46")
    assert sum(gross, D(0)) == total
    # the name's & and < are escaped, not breaking the document
    assert root.xpath("string(//b:account/b:name)", namespaces=NS) == "Ada & <Co>"
    parts = root.xpath("//b:split/b:part/@payer", namespaces=NS)
    assert parts == ["CORP", "A"]


def test_xsd_rejects_a_broken_bill(bill: Bill) -> None:
    doc = render_bill_xml(bill).replace(b"<total>64.46</total>", b"<total>lots</total>")
    with pytest.raises(BillDocumentError, match=r"does not validate against bill\.xsd"):
        validate_bill_xml(doc)
    with pytest.raises(BillDocumentError, match="does not parse"):
        validate_bill_xml(b"<bill")


def test_html_statement_escapes_and_formats(bill: Bill) -> None:
    html = StatementRenderer().render(bill)
    assert "Ada &amp; &lt;Co&gt;" in html
    assert "<Co>" not in html
    assert "Amount due €37.46 by 15 December 2026" in html
    assert "http" not in html  # self-contained, no external assets


def test_html_locale_formatting(policy: ClosePolicy) -> None:
    result = close_account(family_account(locale="de_DE"), FAMILY_LINES, NOV, policy)
    assert isinstance(result, Bill)
    html = StatementRenderer().render(result)
    assert "37,46\xa0€" in html
    assert "15. Dezember 2026" in html
    assert format_money(D("1234567.891"), "EUR", "fr_FR") == "1\u202f234\u202f567,89\xa0€"
    assert format_money(D("5"), "JPY", "en_US") == "¥5"
    assert format_date(NOV.end, "en_US") == "11/30/2026"


def test_host_templates_override_and_are_sandboxed(bill: Bill, tmp_path: Path) -> None:
    (tmp_path / "statement.html.j2").write_text(
        "{% extends 'telcoflow/statement.html.j2' %}"
        "{% block content %}<p>{{ bill.account_name }} owes "
        "{{ bill.position.amount_due | money }}</p>{% endblock %}", encoding="utf-8")
    html = StatementRenderer(template_dirs=[tmp_path]).render(bill)
    assert "<p>Ada &amp; &lt;Co&gt; owes €37.46</p>" in html
    assert "<style>" in html  # the packaged page layout is still used
    assert "Your account" not in html  # the packaged content block was replaced
    strict = StatementRenderer(templates={"x.j2": "{{ bill.acount_name }}"}, template="x.j2")
    with pytest.raises(BillDocumentError, match="acount_name"):
        strict.render(bill)
    escape = StatementRenderer(templates={"y.j2": "{{ bill.__class__.__init__.__globals__ }}"},
                               template="y.j2")
    with pytest.raises(BillDocumentError, match="cannot render the statement of bill A-2026"):
        escape.render(bill)
    with pytest.raises(BillDocumentError, match=r"z\.j2:1"):
        StatementRenderer(templates={"z.j2": "{% for %}"}, template="z.j2")


def test_tmf678_customer_bill(bill: Bill) -> None:
    # issue #18 changed the export on purpose: amounts and rates are JSON numbers (Decimals in
    # the dict), dates are zoned date-times, extensions go through @type/@baseType
    doc = bill_to_tmf678(bill)
    text = bill_to_tmf678_json(bill)
    assert json.loads(text, parse_float=D) == doc  # serializable, and reads back exactly
    assert (doc["@type"], doc["@baseType"]) == ("TelcoflowCustomerBill", "CustomerBill")
    assert doc["@schemaLocation"] == TMF678_BILL_SCHEMA
    assert "@documentKind" not in doc
    assert doc["documentKind"] == "bill"
    assert doc["billingAccount"]["id"] == "A"
    assert doc["taxIncludedAmount"] == {"unit": "EUR", "value": D("64.46")}
    assert '"taxIncludedAmount":{"unit":"EUR","value":64.46}' in text  # a number, not "64.46"
    assert doc["taxExcludedAmount"]["value"] == D("54.01")  # 59.01 - 5.00
    assert doc["amountDue"]["value"] == D("37.46")
    rates = doc["appliedCustomerBillingRate"]
    assert sum(r["taxIncludedAmount"]["value"] for r in rates) == D("64.46")
    assert sum(t["taxAmount"]["value"] for t in doc["taxItem"]) == D("10.45")
    # one tax-rate convention, a fraction, as in TMF635: 10 % digital, 20 % telecom
    assert [(t["taxCategory"], t["taxRate"]) for t in doc["taxItem"]] == [
        ("digital", D("0.10")), ("telecom", D("0.20"))]
    assert rates[0]["appliedTax"][0]["taxRate"] == D("0.20")
    # midnight UTC; the period ends where the next one starts (exclusive)
    assert doc["billDate"] == "2026-12-01T00:00:00+00:00"
    assert doc["billingPeriod"] == {"startDateTime": "2026-11-01T00:00:00+00:00",
                                    "endDateTime": "2026-12-01T00:00:00+00:00"}
    # the quantity is a characteristic now (AppliedCustomerBillingRate has no ratedQuantity)
    assert "ratedQuantity" not in rates[0]
    assert {c["name"]: c["value"] for c in rates[0]["characteristic"]}["quantity"] == D(1)


def test_statement_reads_as_words_with_the_issuer(policy: ClosePolicy) -> None:
    from cycle_helpers import line

    from telcoflow.billing.cycle import Issuer

    # issue #18: "roaming 8185 unit", "300 second", no operator on the bill
    lines = (*FAMILY_LINES, line("A", "S1", "roaming", "3.00", "8185"))
    bill = close_account(family_account(), lines, NOV, policy)
    assert isinstance(bill, Bill)
    issuer = Issuer(name="Example Telecom Ltd", address=("1 Network Way", "London"),
                    vat_id="GB123", payment=("IBAN GB00 EXMP 0000",), contact="bills@x.test")
    view = StatementRenderer(issuer=issuer).view(bill)
    by_item = {item: qty for _sub, item, qty, *_rest in view.lines}
    assert by_item["Voice calls"] == "300 seconds"
    assert by_item["Roaming charges"] == "8,185 units"  # named in words, unit in words
    assert by_item["5G Basic"] == "1 month"  # the catalog's name, singular for one
    assert by_item["Mobile data"] == "2,048 MB"  # a symbol takes no plural
    page = StatementRenderer(issuer=issuer).render(bill)
    assert '<p class="issuer"><strong>Example Telecom Ltd</strong><br>1 Network Way' in page
    for text in ("VAT number GB123", "Payment: IBAN GB00 EXMP 0000", "Contact: bills@x.test"):
        assert f"<p>{text}</p>" in page
    assert '<p class="issuer">' not in StatementRenderer().render(bill)  # no issuer, none shown
