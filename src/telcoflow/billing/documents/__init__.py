"""Bill documents: the XML bill (with its XSD), the HTML statement, the TMF678 JSON export."""

from telcoflow.billing.documents.formatting import format_date, format_money, format_number
from telcoflow.billing.documents.html import StatementRenderer, StatementView
from telcoflow.billing.documents.tmf678 import bill_to_tmf678, bill_to_tmf678_json
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
    "bill_schema",
    "bill_to_tmf678",
    "bill_to_tmf678_json",
    "format_date",
    "format_money",
    "format_number",
    "render_bill_xml",
    "validate_bill_xml",
]
