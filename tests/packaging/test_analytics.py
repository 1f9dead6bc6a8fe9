"""to_pandas() / to_arrow(): ledger lines, rated records, bills and journey metrics as
tables, amounts exact (pandas Decimal objects, Arrow decimal128), currencies present."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pyarrow as pa

from telcoflow.analytics import rows, to_arrow, to_pandas
from telcoflow.billing.cycle import (
    Bill,
    BillCycle,
    BillingAccount,
    Subscription,
    close_account,
    load_close_policy,
)
from telcoflow.events import Charge, RatedRecord
from telcoflow.journeys.metrics import JourneyMetrics, StateTime
from telcoflow.ledger import LedgerLine
from telcoflow.shipped import shipped_path
from telcoflow.stores.memory import MemoryLedgerStore

D = Decimal
LINES = [LedgerLine("A1", "S1", "data", "2026-11-01", "EUR", D("0.10"), D("3")),
         LedgerLine("A1", "S1", "voice", "2026-11-01", "EUR", D("1.005"), D("7")),
         LedgerLine("A2", "S2", "data", "2026-11-01", "JPY", D("120"), D("1"))]


def test_ledger_lines_keep_exact_amounts_and_currencies() -> None:
    frame = to_pandas(LINES)
    assert list(frame["currency"]) == ["EUR", "EUR", "JPY"]
    assert frame["amount"].dtype == object
    assert list(frame["amount"]) == [D("0.10"), D("1.005"), D("120")]
    assert sum(frame["amount"][:2]) == D("1.105")  # 0.10 + 1.005, no float drift
    table = to_arrow(LINES)
    assert table.schema.field("amount").type == pa.decimal128(38, 3)
    assert table.column("amount").to_pylist() == [D("0.100"), D("1.005"), D("120.000")]
    assert table.column("currency").to_pylist() == ["EUR", "EUR", "JPY"]


def test_a_store_gives_its_ledger_lines() -> None:
    store = MemoryLedgerStore()
    assert rows(store) == []
    assert to_pandas(store).empty


def test_rated_records_one_row_per_charge() -> None:
    start = datetime(2026, 11, 3, 9, 30, tzinfo=timezone.utc)
    record = RatedRecord("ev-1", "usage", "A1", "S1", "2026-11-01", "EUR",
                         [Charge("data", D("2.50"), D("5"), discount=D("0.25"),
                                 tax=D("0.45"), tax_rate=D("0.20")),
                          Charge("roaming", D("1.00"), D("1"))], start, "data", D("5"))
    frame = to_pandas([record])
    assert list(frame["item_type"]) == ["data", "roaming"]
    # data: 2.50 - 0.25 = 2.25 net, + 0.45 tax = 2.70; roaming 1.00
    assert list(frame["net"]) == [D("2.25"), D("1.00")]
    assert list(frame["total"]) == [D("2.70"), D("1.00")]
    assert set(frame["currency"]) == {"EUR"}
    table = to_arrow([record])
    assert table.schema.field("total").type == pa.decimal128(38, 2)
    assert sum(table.column("total").to_pylist()) == record.total == D("3.70")


def test_bills_one_row_per_line_summing_to_the_bill() -> None:
    policy = load_close_policy(shipped_path("examples/close/close-policy.yaml"))
    nov = BillCycle.for_month(1, 2026, 11)
    account = BillingAccount("A1", "Ada", "EUR", subscriptions=(Subscription("S1", "go"),))
    bill = close_account(account, [
        LedgerLine("A1", "S1", "data", nov.key, "EUR", D("4.00"), D("2")),
        LedgerLine("A1", "S1", "voice", nov.key, "EUR", D("1.50"), D("3"))], nov, policy)
    assert isinstance(bill, Bill)
    frame = to_pandas([bill])
    assert len(frame) == len(bill.lines) >= 2
    assert set(frame["currency"]) == {"EUR"}
    assert sum(frame["gross"]) == sum(line.net + line.tax for line in bill.lines)
    table = to_arrow([bill])
    assert table.column("bill_id").to_pylist() == [bill.bill_id] * len(bill.lines)
    assert table.schema.field("net").type.scale == 2


def test_journey_metrics_one_row_per_state() -> None:
    metrics = JourneyMetrics(
        journey_id="top_up", channel=None, started=10, in_flight=2,
        outcomes={"done": 7}, conversion={"done": 0.7},
        funnel={"start": 10, "paid": 8, "done": 7}, drop_off={"paid": 1},
        in_flight_by_state={"paid": 1, "start": 1},
        time_in_state={"start": StateTime(10, 4.0, 3.0, 8.0, 9.0)})
    frame = to_pandas(metrics)
    assert list(frame["state"]) == ["done", "paid", "start"]
    assert list(frame["reached"]) == [7, 8, 10]
    assert list(frame["drop_off"]) == [0, 1, 0]
    assert to_arrow(metrics).column("in_flight").to_pylist() == [0, 1, 1]
