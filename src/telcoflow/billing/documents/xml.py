"""The XML bill (namespace ``urn:telcoflow:bill:1``) and its shipped XSD (``bill.xsd``).

Rendering builds the document from string pieces with every text and attribute escaped (about
ten times faster than an element tree for a bill run); :func:`validate_bill_xml` checks a
document against the XSD with lxml, and the tests validate every bill they render.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from lxml import etree

from telcoflow.billing.cycle.model import Bill
from telcoflow.errors import TelcoflowRuntimeError

__all__ = ["BILL_NAMESPACE", "BillDocumentError", "bill_schema", "render_bill_xml",
           "validate_bill_xml"]

#: The XML namespace of telcoflow bills.
BILL_NAMESPACE = "urn:telcoflow:bill:1"


class BillDocumentError(TelcoflowRuntimeError):
    """A bill document could not be rendered or does not validate."""


_ESC = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;",
                      **{chr(c): None for c in range(32) if c not in (9, 10, 13)}})
_NEEDS_ESCAPE = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f]")


def _x(text: str) -> str:
    """Escape for text and attribute values; drop control characters XML 1.0 forbids."""
    return text.translate(_ESC) if _NEEDS_ESCAPE.search(text) else text


def _d(value: Decimal) -> str:
    """A decimal in plain notation (never ``1E+2``), as xs:decimal requires."""
    text = str(value)
    return f"{value:f}" if "E" in text else text


def render_bill_xml(bill: Bill) -> bytes:
    """The bill as UTF-8 XML bytes (valid against :func:`bill_schema`)."""
    c = bill.cycle
    p = bill.position
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<bill xmlns="{BILL_NAMESPACE}" version="1" id="{_x(bill.bill_id)}" '
        f'currency="{bill.currency}" locale="{_x(bill.locale)}">',
        f'<account id="{_x(bill.account_id)}"><name>{_x(bill.account_name)}</name>',
    ]
    out.extend(f"<addressLine>{_x(a)}</addressLine>" for a in bill.address)
    out.append(
        f'</account><cycle day="{c.cycle_day}" start="{c.start.isoformat()}" '
        f'end="{c.end.isoformat()}" billDate="{c.bill_date.isoformat()}"/><lines>')
    for ln in bill.lines:
        out.append(
            f'<line no="{ln.line_no}" subscriber="{_x(ln.subscriber_id)}" '
            f'type="{_x(ln.item_type)}" taxCategory="{_x(ln.tax_category)}">'
            f"<description>{_x(ln.description)}</description>"
            f'<quantity unit="{_x(ln.unit)}">{_d(ln.quantity)}</quantity>'
            f"<amount>{_d(ln.amount)}</amount><discount>{_d(ln.discount)}</discount>"
            f"<net>{_d(ln.net)}</net><taxRate>{_d(ln.tax_rate)}</taxRate>"
            f"<tax>{_d(ln.tax)}</tax><gross>{_d(ln.gross)}</gross></line>")
    out.append("</lines><discounts>")
    for dc in bill.discounts:
        coupon = f' coupon="{_x(dc.coupon)}"' if dc.coupon else ""
        out.append(f'<discount id="{_x(dc.discount_id)}" description="{_x(dc.description)}"'
                   f"{coupon}>{_d(dc.amount)}</discount>")
    out.append("</discounts><taxes>")
    out.extend(f'<tax category="{_x(t.category)}" rate="{_d(t.rate)}" base="{_d(t.base)}">'
               f"{_d(t.amount)}</tax>" for t in bill.taxes)
    out.append(
        f"</taxes><totals><subtotal>{_d(bill.subtotal)}</subtotal>"
        f"<discounts>{_d(bill.discount_total)}</discounts><taxes>{_d(bill.tax_total)}</taxes>"
        f"<total>{_d(bill.total)}</total></totals><split>")
    out.extend(f'<part payer="{_x(pp.payer_id)}">{_d(pp.amount)}</part>'
               for pp in bill.payer_parts)
    out.append(
        f"</split><position><previousBalance>{_d(p.previous_balance)}</previousBalance>"
        f"<payments>{_d(p.payments)}</payments><adjustments>{_d(p.adjustments)}</adjustments>"
        f"<billTotal>{_d(p.bill_total)}</billTotal><amountDue>{_d(p.amount_due)}</amountDue>"
        f"<dueDate>{p.due_date.isoformat()}</dueDate></position></bill>\n")
    return "".join(out).encode("utf-8")


@lru_cache(maxsize=1)
def bill_schema() -> etree.XMLSchema:
    """The shipped bill XSD, parsed once (package data, read with importlib.resources)."""
    data = resources.files("telcoflow.billing.documents").joinpath("bill.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(data))


def validate_bill_xml(document: bytes) -> None:
    """Raise :class:`BillDocumentError` listing every XSD violation of ``document``."""
    try:
        tree = etree.fromstring(document)
    except etree.XMLSyntaxError as exc:
        raise BillDocumentError(f"bill XML does not parse: {exc}") from exc
    schema = bill_schema()
    if not schema.validate(tree):
        log: list[Any] = list(schema.error_log)  # type: ignore[call-overload]
        errors = "; ".join(f"line {e.line}: {e.message}" for e in log)
        raise BillDocumentError(f"bill XML does not validate against bill.xsd: {errors}")
