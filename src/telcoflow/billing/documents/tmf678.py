"""TMF678 CustomerBill JSON export of a bill.

Money follows the project's JSON convention (:meth:`telcoflow.money.Money.to_json`): the value
is a decimal *string* (``{"unit": "EUR", "value": "12.30"}``), never a binary float, so the
amounts read back exactly. Lines become ``appliedCustomerBillingRate`` entries (embedded, the
way TMF678 allows), taxes ``taxItem``, and the payer split is carried as
``relatedParty`` entries with role ``payer`` plus a ``billSplit`` extension.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from telcoflow.billing.cycle.model import Bill

__all__ = ["bill_to_tmf678", "bill_to_tmf678_json"]


def _m(value: Decimal, unit: str) -> dict[str, str]:
    return {"unit": unit, "value": f"{value:f}"}


def bill_to_tmf678(
    bill: Bill, *, base_url: str = "/tmf-api/customerBillManagement/v4"
) -> dict[str, Any]:
    """The bill as a TMF678 ``CustomerBill`` resource (a JSON-ready dict)."""
    cur = bill.currency
    c = bill.cycle
    href = f"{base_url}/customerBill/{bill.bill_id}"
    rates = [
        {
            "id": f"{bill.bill_id}-{ln.line_no}",
            "@type": "AppliedCustomerBillingRate",
            "name": ln.description,
            "type": ln.item_type,
            "isBilled": True,
            "date": c.bill_date.isoformat(),
            "product": {"id": ln.subscriber_id, "@referredType": "Product"} if ln.subscriber_id
            else None,
            "periodCoverage": {"startDateTime": c.start.isoformat(),
                               "endDateTime": c.end.isoformat()},
            "ratedQuantity": {"amount": f"{ln.quantity:f}", "units": ln.unit},
            "taxExcludedAmount": _m(ln.net, cur),
            "taxIncludedAmount": _m(ln.gross, cur),
            "appliedTax": [{"taxCategory": ln.tax_category, "taxRate": f"{ln.tax_rate:f}",
                            "taxAmount": _m(ln.tax, cur)}],
            "characteristic": [
                {"name": "grossAmount", "value": f"{ln.amount:f}"},
                {"name": "discountAmount", "value": f"{ln.discount:f}"},
                *([{"name": "paidBy", "value": ln.paid_by}] if ln.paid_by else []),
            ],
        }
        for ln in bill.lines
    ]
    for r in rates:
        if r["product"] is None:
            del r["product"]
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
        "@type": "CustomerBill",
        "billNo": bill.bill_id,
        "category": "normal",
        "@documentKind": bill.kind,
        "runType": "onCycle",
        "state": "new",
        "billDate": c.bill_date.isoformat(),
        "lastUpdate": c.bill_date.isoformat(),
        "paymentDueDate": p.due_date.isoformat(),
        "billingPeriod": {"startDateTime": c.start.isoformat(), "endDateTime": c.end.isoformat()},
        "billingAccount": {"id": bill.account_id, "name": bill.account_name,
                           "@referredType": "BillingAccount"},
        "amountDue": _m(p.amount_due, cur),
        "remainingAmount": _m(p.amount_due, cur),
        "taxExcludedAmount": _m(bill.subtotal - bill.discount_total, cur),
        "taxIncludedAmount": _m(bill.total, cur),
        "taxItem": [{"taxCategory": t.category, "taxRate": f"{t.rate:f}",
                     "taxAmount": _m(t.amount, cur)} for t in bill.taxes],
        "appliedCustomerBillingRate": rates,
        "relatedParty": [{"id": pp.payer_id, "role": "payer", "@referredType": "Party"}
                         for pp in bill.payer_parts],
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
    """:func:`bill_to_tmf678` serialized as compact JSON text."""
    return json.dumps(bill_to_tmf678(bill, **kwargs), separators=(",", ":"), ensure_ascii=False)
