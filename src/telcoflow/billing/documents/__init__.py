"""Bill documents: the XML bill (with its XSD), the HTML statement, the TM Forum JSON exports
(TMF678 CustomerBill, TMF635 Usage)."""

from telcoflow.billing.documents.formatting import format_date, format_money, format_number
from telcoflow.billing.documents.html import StatementRenderer, StatementView
from telcoflow.billing.documents.tmf678 import (
    TMF678_BILL_SCHEMA,
    bill_to_tmf678,
    bill_to_tmf678_json,
    extension_schema,
    issuer_party,
    tmf_json,
    usage_to_tmf635_json,
)
from telcoflow.billing.documents.xml import (
    BILL_NAMESPACE,
    BillDocumentError,
    bill_schema,
    render_bill_xml,
    validate_bill_xml,
)

__all__ = [
    "BILL_NAMESPACE",
    "BillDocumentError",
    "StatementRenderer",
    "StatementView",
    "TMF678_BILL_SCHEMA",
    "bill_schema",
    "bill_to_tmf678",
    "bill_to_tmf678_json",
    "extension_schema",
    "format_date",
    "format_money",
    "format_number",
    "issuer_party",
    "render_bill_xml",
    "tmf_json",
    "usage_to_tmf635_json",
    "validate_bill_xml",
]
