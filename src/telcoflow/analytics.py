"""Tables for notebooks: ledger lines, rated records, bills and journey metrics as pandas
DataFrames or Arrow tables (the ``analytics`` extra: ``pip install 'telcoflow[analytics]'``).

Amounts stay exact: in pandas a money column holds :class:`~decimal.Decimal` objects
(``object`` dtype), in Arrow it is ``decimal128(38, s)`` with ``s`` the most decimals the
column holds. Every table with amounts has its ``currency`` column.

* a ledger store (its :meth:`~telcoflow.ledger.LedgerStore.lines`) or ledger lines: one row
  per line;
* rated records (:class:`~telcoflow.events.RatedRecord`): one row per charge, with the
  record's event, account, subscriber, period, currency and start;
* bills (:class:`~telcoflow.billing.cycle.model.Bill`): one row per bill line, with the
  bill's id, account, cycle and currency;
* journey metrics (:class:`~telcoflow.journeys.metrics.JourneyMetrics`): one row per
  state (funnel, drop-off, in flight, time in state).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from telcoflow._optional import require
from telcoflow.events import RatedRecord
from telcoflow.ledger import LedgerLine

if TYPE_CHECKING:
    import pandas
    import pyarrow

__all__ = ["rows", "to_arrow", "to_pandas"]

Row = dict[str, Any]


def _ledger(lines: Iterable[LedgerLine]) -> list[Row]:
    return [{f.name: getattr(line, f.name) for f in fields(LedgerLine)} for line in lines]


def _rated(records: Iterable[RatedRecord]) -> list[Row]:
    out: list[Row] = []
    for r in records:
        for c in r.charges:
            out.append({
                "event_id": r.event_id, "kind": r.kind, "account": r.account,
                "subscriber": r.subscriber, "period": r.period, "start": r.start,
                "usage_type": r.usage_type, "item_type": c.item_type,
                "currency": r.currency, "quantity": c.quantity,
                "allowance_units": c.allowance_units, "gross": c.gross,
                "discount": c.discount, "net": c.net, "tax_rate": c.tax_rate, "tax": c.tax,
                "total": c.total})
    return out


def _bills(bills: Iterable[Any]) -> list[Row]:
    out: list[Row] = []
    for bill in bills:
        for line in bill.lines:
            row: Row = {"bill_id": bill.bill_id, "kind": bill.kind,
                        "account_id": bill.account_id, "cycle_start": bill.cycle.start,
                        "cycle_end": bill.cycle.end, "currency": bill.currency}
            row.update(line._asdict())
            row["line_account_id"] = row.pop("account_id")
            row["account_id"] = bill.account_id
            row["gross"] = line.net + line.tax
            out.append(row)
    return out


def _journey(metrics: Any) -> list[Row]:
    states = sorted(set(metrics.funnel) | set(metrics.drop_off)
                    | set(metrics.in_flight_by_state) | set(metrics.time_in_state))
    out: list[Row] = []
    for state in states:
        stay = metrics.time_in_state.get(state)
        out.append({
            "journey_id": metrics.journey_id, "channel": metrics.channel, "state": state,
            "reached": metrics.funnel.get(state, 0), "drop_off": metrics.drop_off.get(state, 0),
            "in_flight": metrics.in_flight_by_state.get(state, 0),
            "stays": stay.count if stay else 0, "mean_seconds": stay.mean if stay else None,
            "p50_seconds": stay.p50 if stay else None,
            "p90_seconds": stay.p90 if stay else None})
    return out


def rows(data: Any) -> list[Row]:
    """The rows of ``data`` as plain dicts (what :func:`to_pandas` and :func:`to_arrow` build
    their tables from); ``data`` is a ledger store, ledger lines, rated records, bills or one
    journey's metrics."""
    if hasattr(data, "lines") and callable(data.lines):  # a LedgerStore
        return _ledger(data.lines())
    if hasattr(data, "funnel") and hasattr(data, "journey_id"):  # JourneyMetrics
        return _journey(data)
    items = list(data)
    if not items:
        return []
    first = items[0]
    if isinstance(first, LedgerLine):
        return _ledger(items)
    if isinstance(first, RatedRecord):
        return _rated(items)
    if hasattr(first, "bill_id") and hasattr(first, "lines"):
        return _bills(items)
    if is_dataclass(first) and not isinstance(first, type):
        return [{f.name: getattr(i, f.name) for f in fields(first)} for i in items]
    raise TypeError(f"no table for {type(first).__name__} (expected ledger lines, rated "
                    "records, bills or journey metrics)")


def to_pandas(data: Any) -> pandas.DataFrame:
    """``data`` (see :func:`rows`) as a pandas DataFrame; amounts stay
    :class:`~decimal.Decimal` (``object`` columns)."""
    pd = require("pandas", "analytics", "to_pandas()")
    table = rows(data)
    frame: pandas.DataFrame = pd.DataFrame.from_records(table) if table else pd.DataFrame()
    for name in frame.columns:
        if any(isinstance(v, Decimal) for v in frame[name]):
            frame[name] = frame[name].astype(object)
    return frame


def _decimal_type(values: list[Any]) -> Any:
    pa = require("pyarrow", "analytics", "to_arrow()")
    scale = 0
    for v in values:
        if isinstance(v, Decimal):
            exponent = v.as_tuple().exponent
            if isinstance(exponent, int):
                scale = max(scale, -exponent)
    return pa.decimal128(38, scale)


def to_arrow(data: Any) -> pyarrow.Table:
    """``data`` (see :func:`rows`) as an Arrow table; amounts are ``decimal128(38, s)``,
    exact."""
    pa = require("pyarrow", "analytics", "to_arrow()")
    table = rows(data)
    names = list(table[0]) if table else []
    arrays = []
    for name in names:
        values = [r[name] for r in table]
        if any(isinstance(v, Decimal) for v in values):
            arrays.append(pa.array(values, type=_decimal_type(values)))
        else:
            arrays.append(pa.array(values))
    result: pyarrow.Table = pa.Table.from_arrays(arrays, names=names)
    return result
