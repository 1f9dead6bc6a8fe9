"""The steps of the default real-time graph, one module per concern.

validate -> deduplicate -> enrich -> rate -> ledger -> discount -> tax -> split ->
credit_control -> emit

* :mod:`~telcoflow.billing.steps.validate`: ``Validate``, ``Deduplicate`` and the limits an
  event must respect (:data:`MAX_QUANTITY`, :func:`number_problem`, ...);
* :mod:`~telcoflow.billing.steps.enrich`: ``Enrich`` (profiles and period);
* :mod:`~telcoflow.billing.steps.rate`: ``Rate`` (tariffs, allowances, period counters);
* :mod:`~telcoflow.billing.steps.post`: ``Ledger``, ``Discount``, ``Tax`` (ledger lines);
* :mod:`~telcoflow.billing.steps.split`: ``Split`` (payer rules);
* :mod:`~telcoflow.billing.steps.credit`: ``CreditControl`` (balances, limits, debt);
* :mod:`~telcoflow.billing.steps.emit`: ``Emit`` (claims and rated records to the sinks).

Each step is a small class configured in ``__init__`` and working in ``__call__`` over a
whole batch, with ``__slots__``. Steps that reject an item send it to the dead letters
(``batch.reject``) and drop it from ``batch.items``; checks that can reject run before any
effect of the item is posted, so a rejected event leaves no trace but its dead letter.

The hottest writes (a ledger line, a counter move, a claim) are written out in the steps
instead of calling :class:`~telcoflow.billing.transaction.LedgerTransaction` once per charge;
each such place says which method it stands for and must keep its effect exact (the
transaction's ``post``, ``add`` and ``claim`` are the reference: ``tests/billing`` checks the
effects of both against each other through reversal and replay).
"""

from telcoflow.billing.steps._shared import USAGE_TYPES, LatePolicy, Sink
from telcoflow.billing.steps.credit import CreditControl
from telcoflow.billing.steps.emit import Emit
from telcoflow.billing.steps.enrich import Enrich
from telcoflow.billing.steps.post import Discount, Ledger, Tax
from telcoflow.billing.steps.rate import Rate
from telcoflow.billing.steps.split import Split
from telcoflow.billing.steps.validate import (
    MAX_AMOUNT,
    MAX_DIGITS,
    MAX_QUANTITY,
    MAX_TEXT,
    Deduplicate,
    Validate,
    number_problem,
)

__all__ = [
    "MAX_AMOUNT",
    "MAX_DIGITS",
    "MAX_QUANTITY",
    "MAX_TEXT",
    "USAGE_TYPES",
    "CreditControl",
    "Deduplicate",
    "Discount",
    "Emit",
    "Enrich",
    "LatePolicy",
    "Ledger",
    "Rate",
    "Sink",
    "Split",
    "Tax",
    "Validate",
    "number_problem",
]
