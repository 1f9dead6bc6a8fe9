"""Revenue assurance: per account and period, ledger total = billed total + carried amounts.

:func:`reconcile` builds one :class:`ReconciliationRow` per account and currency of a period;
:func:`telcoflow.ops.audits.run_reconciliation_audit` judges the rows with the shipped rule
pack ``rules/audits/reconciliation.rules.yaml`` (any difference is a finding).

What the columns mean (pre-tax amounts; tax is the bill's own arithmetic, judged by the
balance audit's ``bill-total`` check):

* ``ledger``: the ledger lines of the period, every item type but ``tax`` (real-time
  ``discount`` lines are negative), exactly as stored.
* ``rounding``: what rounding at the bill line moves: the ledger summed per subscriber and
  item type and rounded to the currency's minor unit the way the close rounds each line,
  minus ``ledger``.
* ``billed``: the lines of the period's documents (bills, prepaid statements, payer
  documents, whoever pays each line) that carry ledger amounts (a line whose subscriber and
  item type the ledger has; a line whose price held its tax, ``taxIncluded``, counts its
  amount plus its tax: the price the ledger held), less the discount a document lists as
  given in real time
  (``realtime``). Lines without a ledger counterpart are ``added`` (a close that bills the
  ledger adds none); end-of-cycle discounts are ``close_discounts``: both are shown, neither
  is part of the identity.
* ``carried``: amounts explicitly carried to the next period (:class:`Carried`, each with a
  reason): anything in the ledger that no bill or statement carries must be listed here.
* ``difference = ledger + rounding - billed - carried``: zero when every cent is accounted for.
* ``recorded``: the ledger total (without tax) the account's documents say the close read
  (``<ledger total tax/>``); when it differs from ``ledger``, the ledger changed after the close.

A line is attributed to its document's account when that account's ledger holds its
subscriber, else to the one account whose ledger does.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import Field

from telcoflow._optional import requires
from telcoflow.billing.cycle.model import Bill
from telcoflow.billing.documents.xml import BILL_NAMESPACE
from telcoflow.catalog.common import CurrencyCode, ExactDecimal, Frozen
from telcoflow.errors import StoreError
from telcoflow.ledger import LedgerLine
from telcoflow.money import MONEY_CONTEXT, Currency

with requires("documents", "reconciliation of XML bills"):
    from lxml import etree

__all__ = [
    "BilledDocument",
    "Carried",
    "CarriedFile",
    "Reconciliation",
    "ReconciliationRow",
    "billed_from_bills",
    "billed_from_xml",
    "line_ledger_amount",
    "load_carried",
    "reconcile",
]

_ZERO = Decimal(0)
#: Our own decimal context: a host changing ``decimal.getcontext()`` changes no sum here.
_CTX = MONEY_CONTEXT
#: The discount id a close gives the discounts granted in real time (ledger ``discount`` lines).
REALTIME_DISCOUNT = "realtime"
_NS = {"b": BILL_NAMESPACE}


class Carried(Frozen):
    """An amount of an account's ledger carried to the next period instead of being billed
    (a prepaid balance, a debt, a disputed charge), with the reason."""

    account: str = Field(min_length=1)
    period: str = Field(min_length=1)
    currency: CurrencyCode
    amount: ExactDecimal
    reason: str = Field(min_length=1)


class CarriedFile(Frozen):
    """A YAML file of carried amounts: ``kind: carried`` and ``carried: [...]``."""

    kind: Literal["carried"]
    carried: tuple[Carried, ...] = ()


def load_carried(path: str | Path) -> tuple[Carried, ...]:
    """The carried amounts of a YAML file; every problem reported as ``file:line:col``
    (:class:`~telcoflow.errors.DefinitionError`)."""
    from telcoflow.loading.source import load_document
    from telcoflow.loading.validate import validate_document

    return validate_document(load_document(path), CarriedFile).carried


class BilledDocument(NamedTuple):
    """What a reconciliation reads of one document (bill, statement, payer document): its
    lines as ``(subscriber, item_type, amount)``, its discounts, real-time and end-of-cycle,
    and the ledger total it was built from."""

    account_id: str
    currency: str
    lines: tuple[tuple[str, str, Decimal], ...]
    realtime_discount: Decimal
    close_discounts: Decimal
    #: the account's ledger total (without tax) the close built the document from, as it
    #: read it (``ledger_total - ledger_tax``); None when the document does not say
    ledger_read: Decimal | None = None


def billed_from_bills(bills: Iterable[Bill]) -> list[BilledDocument]:
    """:class:`BilledDocument` s of closed bills."""
    out = []
    for b in bills:
        realtime = sum((d.amount for d in b.discounts if d.discount_id == REALTIME_DISCOUNT),
                       _ZERO)
        out.append(BilledDocument(
            b.account_id, b.currency,
            tuple((ln.subscriber_id, ln.item_type, ln.ledger_amount) for ln in b.lines),
            realtime, b.discount_total - realtime, b.ledger_total - b.ledger_tax))
    return out


def line_ledger_amount(line: etree._Element) -> Decimal:
    """What a stored ``<line>`` carries of the ledger: its amount, plus its tax when the
    price held it (``taxIncluded``; :attr:`BillLine.ledger_amount
    <telcoflow.billing.cycle.model.BillLine.ledger_amount>` of the line as stored)."""
    amount = Decimal(line.findtext("b:amount", "0", namespaces=_NS))
    if line.get("taxIncluded") in ("true", "1"):
        amount += Decimal(line.findtext("b:tax", "0", namespaces=_NS))
    return amount


def billed_from_xml(documents: Iterable[tuple[str, bytes]]) -> list[BilledDocument]:
    """:class:`BilledDocument` s of stored XML bills, ``(account id, document)`` pairs (as
    :meth:`BillStore.documents <telcoflow.billing.cycle.store.BillStore.documents>` yields
    them): what was stored, so a line deleted after the close shows."""
    out = []
    for account_id, doc in documents:
        try:
            root = etree.fromstring(doc)
        except etree.XMLSyntaxError as exc:
            raise StoreError(f"the stored bill of account {account_id} is not XML: {exc}") from exc
        try:
            lines = tuple(
                (ln.get("subscriber", ""), ln.get("type", ""), line_ledger_amount(ln))
                for ln in root.iterfind("b:lines/b:line", namespaces=_NS))
            realtime = close = _ZERO
            for d in root.iterfind("b:discounts/b:discount", namespaces=_NS):
                amount = Decimal(d.text or "0")
                if d.get("id") == REALTIME_DISCOUNT:
                    realtime += amount
                else:
                    close += amount
            read = root.find("b:ledger", namespaces=_NS)
            ledger_read = (None if read is None else
                           Decimal(read.get("total", "0")) - Decimal(read.get("tax", "0")))
        except decimal.InvalidOperation as exc:
            raise StoreError(f"the stored bill of account {account_id} has an amount that is "
                             f"not a number: {exc}") from exc
        out.append(BilledDocument(account_id, root.get("currency", ""), lines, realtime, close,
                                  ledger_read))
    return out


@dataclass(frozen=True, slots=True)
class ReconciliationRow:
    """One account's reconciliation in one currency (see the module docs for each column)."""

    account: str
    currency: str
    ledger: Decimal
    rounding: Decimal
    billed: Decimal
    carried: Decimal
    added: Decimal
    close_discounts: Decimal
    reasons: tuple[str, ...] = ()
    #: the ledger total (without tax) the account's documents say they were built from;
    #: None when there is no document or it does not say
    recorded: Decimal | None = None
    #: how many of the period's documents carry lines of this account (or are its own)
    documents: int = 0

    @property
    def difference(self) -> Decimal:
        """``ledger + rounding - billed - carried``: zero when every cent is accounted for."""
        with decimal.localcontext(_CTX):
            return self.ledger + self.rounding - self.billed - self.carried

    def as_fact(self) -> dict[str, object]:
        """The ``row`` a reconciliation rule pack judges."""
        return {"kind": "account", "subject": f"account {self.account} ({self.currency})",
                "account": self.account, "currency": self.currency, "ledger": self.ledger,
                "rounding": self.rounding, "billed": self.billed, "carried": self.carried,
                "added": self.added, "close_discounts": self.close_discounts,
                "difference": self.difference, "reasons": "; ".join(self.reasons),
                "recorded_known": self.recorded is not None,
                "recorded": self.ledger if self.recorded is None else self.recorded,
                "documents": self.documents}


_COLUMNS = ("ledger", "rounding", "billed", "carried", "difference")


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The rows of one period (sorted by account and currency) and their totals per currency."""

    period: str
    rows: tuple[ReconciliationRow, ...]

    @property
    def totals(self) -> dict[str, dict[str, Decimal]]:
        """Per currency: ``ledger``, ``rounding``, ``billed``, ``carried``, ``difference``,
        ``added`` and ``close_discounts`` summed over the rows."""
        out: dict[str, dict[str, Decimal]] = {}
        with decimal.localcontext(_CTX):
            for r in self.rows:
                t = out.setdefault(r.currency, dict.fromkeys(
                    (*_COLUMNS, "added", "close_discounts"), _ZERO))
                for name in (*_COLUMNS, "added", "close_discounts"):
                    t[name] += getattr(r, name) if name != "difference" else r.difference
        return out

    @property
    def differing(self) -> tuple[ReconciliationRow, ...]:
        """The rows whose difference is not zero."""
        return tuple(r for r in self.rows if r.difference)

    def render(self, *, rows: Literal["differing", "all", "none"] = "differing") -> str:
        """A text report: the totals per currency, then the rows asked for."""
        out = [f"reconciliation of period {self.period}: ledger + rounding = billed + carried"]
        for currency, t in sorted(self.totals.items()):
            out.append(f"  {currency}: " + ", ".join(
                f"{name} {t[name]:,.2f}" for name in _COLUMNS)
                + f" (not from the ledger: added {t['added']:,.2f}, "
                f"close discounts {t['close_discounts']:,.2f})")
        out.append(f"  {len(self.rows)} account(s), {len(self.differing)} with a difference")
        shown = {"all": self.rows, "differing": self.differing, "none": ()}[rows]
        for r in shown:
            out.append(f"  {r.account} {r.currency}: ledger {r.ledger} rounding {r.rounding} "
                       f"billed {r.billed} carried {r.carried} difference {r.difference}"
                       + (f" ({'; '.join(r.reasons)})" if r.reasons else ""))
        return "\n".join(out)


def reconcile(
    ledger: Iterable[LedgerLine],
    billed: Iterable[BilledDocument | Bill],
    *,
    period: str,
    carried: Iterable[Carried] = (),
    rounding: str = ROUND_HALF_UP,
    untaxed_items: Sequence[str] = ("tax",),
) -> Reconciliation:
    """Reconcile ``period``: its ledger lines against the bills (or statements) of the period
    and the amounts carried from it, per account and currency.

    ``billed`` are closed :class:`Bill` s or :class:`BilledDocument` s (see
    :func:`billed_from_xml`); ``rounding`` is the close's rounding mode (a :mod:`decimal`
    constant, ``ClosePolicy.rounding.decimal_mode``); ledger lines of ``untaxed_items`` (the
    real-time tax estimate) are left out. Ledger lines and carried amounts of other periods
    are ignored.
    """
    skip = frozenset(untaxed_items)
    with decimal.localcontext(_CTX):
        # ledger per (account, currency) -> (subscriber, item) -> sum
        sums: dict[tuple[str, str], dict[tuple[str, str], Decimal]] = {}
        owner: dict[str, set[str]] = {}
        for ln in ledger:
            if ln.period != period or ln.item_type in skip:
                continue
            per = sums.setdefault((ln.account, ln.currency), {})
            key = (ln.subscriber, ln.item_type)
            per[key] = per.get(key, _ZERO) + ln.amount
            owner.setdefault(ln.subscriber, set()).add(ln.account)

        ledger_total: dict[tuple[str, str], Decimal] = {}
        rounded: dict[tuple[str, str], Decimal] = {}
        for acc, per in sums.items():
            quantum = Currency.of(acc[1]).quantum
            exact = total = _ZERO
            for (_sub, item), amount in per.items():
                exact += amount
                # the close rounds a discount as the positive amount it gives
                total += (-((-amount).quantize(quantum, rounding)) if item == "discount"
                          else amount.quantize(quantum, rounding))
            ledger_total[acc], rounded[acc] = exact, total

        billed_sum: dict[tuple[str, str], Decimal] = {}
        added: dict[tuple[str, str], Decimal] = {}
        close_discounts: dict[tuple[str, str], Decimal] = {}
        recorded: dict[tuple[str, str], Decimal] = {}
        documents: dict[tuple[str, str], int] = {}
        for doc in billed:
            d = doc if isinstance(doc, BilledDocument) else billed_from_bills([doc])[0]
            own = (d.account_id, d.currency)
            on_it = {own}
            for sub, item, amount in d.lines:
                acc = _attribute(own, sub, owner)
                if (sub, item) in sums.get(acc, {}):
                    billed_sum[acc] = billed_sum.get(acc, _ZERO) + amount
                    on_it.add(acc)
                else:
                    added[own] = added.get(own, _ZERO) + amount
            for acc in on_it:
                documents[acc] = documents.get(acc, 0) + 1
            if d.realtime_discount:
                billed_sum[own] = billed_sum.get(own, _ZERO) - d.realtime_discount
            if d.close_discounts:
                close_discounts[own] = close_discounts.get(own, _ZERO) + d.close_discounts
            if d.ledger_read is not None:
                recorded[own] = recorded.get(own, _ZERO) + d.ledger_read

        carried_sum: dict[tuple[str, str], Decimal] = {}
        reasons: dict[tuple[str, str], list[str]] = {}
        for c in carried:
            if c.period != period:
                continue
            acc = (c.account, c.currency)
            carried_sum[acc] = carried_sum.get(acc, _ZERO) + c.amount
            reasons.setdefault(acc, []).append(f"{c.amount} {c.reason}")

        keys = sorted(set(ledger_total) | set(documents) | set(carried_sum))
        rows = tuple(
            ReconciliationRow(
                account=a, currency=cur, ledger=ledger_total.get((a, cur), _ZERO),
                rounding=rounded.get((a, cur), _ZERO) - ledger_total.get((a, cur), _ZERO),
                billed=billed_sum.get((a, cur), _ZERO), carried=carried_sum.get((a, cur), _ZERO),
                added=added.get((a, cur), _ZERO),
                close_discounts=close_discounts.get((a, cur), _ZERO),
                reasons=tuple(reasons.get((a, cur), ())), recorded=recorded.get((a, cur)),
                documents=documents.get((a, cur), 0))
            for a, cur in keys)
    return Reconciliation(period, rows)


def _attribute(own: tuple[str, str], subscriber: str,
               owner: Mapping[str, set[str]]) -> tuple[str, str]:
    """The (account, currency) a document line belongs to: the document's own account when
    its ledger holds the subscriber, else the one account whose ledger does, else the
    document's account."""
    accounts = owner.get(subscriber)
    if not accounts or own[0] in accounts or len(accounts) > 1:
        return own
    return (next(iter(accounts)), own[1])
