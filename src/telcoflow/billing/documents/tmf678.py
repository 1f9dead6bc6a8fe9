"""TM Forum JSON exports: the TMF678 ``CustomerBill`` of a bill, the TMF635 ``Usage`` of a rated
record, both valid against the official v4.0.0 definitions (JSON Schema draft 4).

* **Numbers are JSON numbers**, written digit for digit from the :class:`~decimal.Decimal`
  (``{"unit": "EUR", "value": 12.30}``): the dicts hold Decimals, the ``*_json`` functions
  serialize them with simplejson's exact Decimal encoding, never through a binary float; read
  them back exactly with ``json.loads(text, parse_float=Decimal)``.
* **Date-times carry a zone**: a bill's dates are midnight UTC (``2026-12-01T00:00:00+00:00``);
  a billing period runs from its first day's midnight to the next period's first midnight
  (exclusive end, as :func:`telcoflow.periods.cycle_bounds`).
* **Tax rates are fractions** (``0.20`` for 20 %) in both exports.
* **Extensions only by sub-classing**, as the TM Forum design guidelines say: the bill is a
  ``TelcoflowCustomerBill`` (``@baseType`` ``CustomerBill``) whose ``@schemaLocation`` names
  the JSON Schema declaring what it adds (its lines as ``appliedCustomerBillingRate``, its
  ``discount``, ``billSplit``, ``accountPosition``, ``documentKind``, a payer's
  ``memberCharge``, a prepaid ``prepaidBalance``). The schemas ship in this package
  (:func:`extension_schema`); a host that serves them passes its own ``schema_location``.
* **The issuer** (the close policy's ``issuer``: the operator's name, address, VAT number,
  payment details, contact) is a ``relatedParty`` with role ``issuer``, sub-classed as
  ``TelcoflowIssuer`` (``@baseType`` ``RelatedParty``, declared in the bill's extension
  schema) to carry ``address``, ``taxId``, ``paymentDetail`` and ``contact``. Its ``id`` is
  the VAT number (else the name): the policy's issuer has no other identifier.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from telcoflow._optional import requires
from telcoflow.billing.cycle.model import Bill
from telcoflow.billing.cycle.policy import Issuer
from telcoflow.errors import NotFoundError
from telcoflow.events import RatedRecord
from telcoflow.periods import ONE_DAY

with requires("documents", "TM Forum JSON documents"):
    import simplejson

__all__ = [
    "TMF678_BILL_SCHEMA",
    "bill_to_tmf678",
    "bill_to_tmf678_json",
    "extension_schema",
    "issuer_party",
    "tmf_json",
    "usage_to_tmf635_json",
]

#: Default ``@schemaLocation`` of :func:`bill_to_tmf678` (the ``id`` of the shipped schema
#: ``schemas/TelcoflowCustomerBill.schema.json``).
TMF678_BILL_SCHEMA = "urn:telcoflow:schema:tmf678:TelcoflowCustomerBill:1"

_SCHEMA_FILES = {"TelcoflowCustomerBill": "TelcoflowCustomerBill.schema.json",
                 "TelcoflowUsage": "TelcoflowUsage.schema.json"}


def extension_schema(name: str) -> dict[str, Any]:
    """The shipped JSON Schema (draft 4) of an extension type: ``TelcoflowCustomerBill`` or
    ``TelcoflowUsage`` (a fresh dict each call). Its ``$ref`` s to the base resources point
    at the official TM Forum v4.0.0 swagger files."""
    try:
        file = _SCHEMA_FILES[name]
    except KeyError:
        raise NotFoundError(
            f"no extension schema {name!r}; known: {sorted(_SCHEMA_FILES)}") from None
    schema: dict[str, Any] = json.loads(_schema_text(file))
    return schema


@cache
def _schema_text(file: str) -> str:
    return (resources.files("telcoflow.billing.documents") / "schemas" / file).read_text(
        encoding="utf-8")


def tmf_json(resource: Any) -> str:
    """A TMF resource as compact JSON text, every Decimal written as the exact JSON number."""
    text: str = simplejson.dumps(resource, use_decimal=True, separators=(",", ":"),
                                 ensure_ascii=False)
    return text


def _at(day: date) -> str:
    """Midnight UTC of ``day``, RFC 3339."""
    return datetime.combine(day, time(), tzinfo=timezone.utc).isoformat()


def _m(value: Decimal, unit: str) -> dict[str, Any]:
    return {"unit": unit, "value": value}


def issuer_party(issuer: Issuer, *,
                 schema_location: str = TMF678_BILL_SCHEMA) -> dict[str, Any]:
    """The bill's issuer as a TMF ``RelatedParty`` (role ``issuer``, sub-class
    ``TelcoflowIssuer`` declared in the schema at ``schema_location``)."""
    party: dict[str, Any] = {
        "id": issuer.vat_id or issuer.name,
        "name": issuer.name,
        "role": "issuer",
        "@referredType": "Organization",
        "@type": "TelcoflowIssuer",
        "@baseType": "RelatedParty",
        "@schemaLocation": f"{schema_location}#/definitions/TelcoflowIssuer",
    }
    if issuer.address:
        party["address"] = list(issuer.address)
    if issuer.vat_id:
        party["taxId"] = issuer.vat_id
    if issuer.payment:
        party["paymentDetail"] = list(issuer.payment)
    if issuer.contact:
        party["contact"] = issuer.contact
    return party


def bill_to_tmf678(
    bill: Bill,
    *,
    base_url: str = "/tmf-api/customerBillManagement/v4",
    schema_location: str = TMF678_BILL_SCHEMA,
    issuer: Issuer | None = None,
) -> dict[str, Any]:
    """The bill as a TMF678 ``CustomerBill`` (sub-class ``TelcoflowCustomerBill``), a dict
    whose numbers are :class:`~decimal.Decimal` (serialize with :func:`tmf_json`).

    ``issuer`` (the close policy's) is added to ``relatedParty`` (:func:`issuer_party`)."""
    cur = bill.currency
    c = bill.cycle
    href = f"{base_url}/customerBill/{bill.bill_id}"
    start, end = _at(c.start), _at(c.end + ONE_DAY)  # the next cycle's first day
    billed = _at(c.bill_date)
    period = {"startDateTime": start, "endDateTime": end}
    bill_ref = {"id": bill.bill_id, "href": href, "@referredType": "CustomerBill"}
    rates = []
    for ln in bill.lines:
        rate: dict[str, Any] = {
            "id": f"{bill.bill_id}-{ln.line_no}",
            "@type": "AppliedCustomerBillingRate",
            "name": ln.description,
            "type": ln.item_type,
            "isBilled": True,
            "date": billed,
            "bill": bill_ref,
            "periodCoverage": period,
            "taxExcludedAmount": _m(ln.net, cur),
            "taxIncludedAmount": _m(ln.gross, cur),
            "appliedTax": [{"taxCategory": ln.tax_category, "taxRate": ln.tax_rate.scaleb(-2),
                            "taxAmount": _m(ln.tax, cur)}],
            "characteristic": [
                {"name": "quantity", "valueType": "number", "value": ln.quantity},
                {"name": "unit", "valueType": "string", "value": ln.unit},
                {"name": "grossAmount", "valueType": "number", "value": ln.amount},
                {"name": "discountAmount", "valueType": "number", "value": ln.discount},
                *([{"name": "paidBy", "valueType": "string", "value": ln.paid_by}]
                  if ln.paid_by else []),
            ],
        }
        if ln.subscriber_id:
            rate["product"] = {"id": ln.subscriber_id, "@referredType": "Product"}
        rates.append(rate)
    p = bill.position
    extra: dict[str, Any] = {}
    if bill.members:
        extra["memberCharge"] = [
            {"member": m.member_id, "subscriber": m.subscriber_id, "type": m.item_type,
             "taxExcludedAmount": _m(m.net, cur), "taxIncludedAmount": _m(m.gross, cur)}
            for m in bill.members]
    if bill.opening_balance is not None and bill.closing_balance is not None:
        extra["prepaidBalance"] = {
            "opening": _m(bill.opening_balance, cur), "topUps": _m(bill.top_ups, cur),
            "paidFromBalance": _m(bill.paid_from_balance, cur),
            "closing": _m(bill.closing_balance, cur)}
    return {
        "id": bill.bill_id,
        "href": href,
        "@type": "TelcoflowCustomerBill",
        "@baseType": "CustomerBill",
        "@schemaLocation": schema_location,
        "billNo": bill.bill_id,
        "category": "normal",
        "documentKind": bill.kind,
        "runType": "onCycle",
        "state": "new",
        "billDate": billed,
        "lastUpdate": billed,
        "paymentDueDate": _at(p.due_date),
        "billingPeriod": period,
        "billingAccount": {"id": bill.account_id, "name": bill.account_name,
                           "@referredType": "BillingAccount"},
        "amountDue": _m(p.amount_due, cur),
        "remainingAmount": _m(p.amount_due, cur),
        "taxExcludedAmount": _m(bill.subtotal - bill.discount_total, cur),
        "taxIncludedAmount": _m(bill.total, cur),
        "taxItem": [{"taxCategory": t.category, "taxRate": t.rate.scaleb(-2),
                     "taxAmount": _m(t.amount, cur)} for t in bill.taxes],
        "relatedParty": [
            *([issuer_party(issuer, schema_location=schema_location)] if issuer else []),
            *({"id": pp.payer_id, "role": "payer", "@referredType": "BillingAccount"}
              for pp in bill.payer_parts)],
        "appliedCustomerBillingRate": rates,
        "billSplit": [{"payer": pp.payer_id, "amount": _m(pp.amount, cur)}
                      for pp in bill.payer_parts],
        "discount": [{"id": d.discount_id, "name": d.description, "amount": _m(d.amount, cur),
                      **({"coupon": d.coupon} if d.coupon else {})} for d in bill.discounts],
        "accountPosition": {
            "previousBalance": _m(p.previous_balance, cur),
            "payments": _m(p.payments, cur),
            "adjustments": _m(p.adjustments, cur),
        },
        **extra,
    }


def bill_to_tmf678_json(bill: Bill, **kwargs: Any) -> str:
    """:func:`bill_to_tmf678` serialized as compact JSON text (exact numbers)."""
    return tmf_json(bill_to_tmf678(bill, **kwargs))


def usage_to_tmf635_json(record: RatedRecord) -> str:
    """:meth:`RatedRecord.to_tmf635 <telcoflow.events.RatedRecord.to_tmf635>` serialized as
    compact JSON text (exact numbers); its ``@schemaLocation`` is
    :data:`~telcoflow.events.TMF635_USAGE_SCHEMA`."""
    return tmf_json(record.to_tmf635())
