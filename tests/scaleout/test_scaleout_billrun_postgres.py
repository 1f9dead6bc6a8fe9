"""The bill-run state on PostgreSQL: what the SQLite ``SQLiteBillStore`` holds, for many workers."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from scaleout_helpers import PG_URL, pg_schema

from telcoflow.billing.cycle import SkippedAccount, parse_close_policy
from telcoflow.billing.cycle.close import CycleCloser
from telcoflow.billing.cycle.sources import MemoryLedger, lines_by_account
from telcoflow.billing.cycle.store import FinishedAccount
from telcoflow.errors import StoreError
from telcoflow.stores.postgres import PostgresBillStore
from telcoflow.stores.sqlite import SQLiteBillStore

pytestmark = pytest.mark.services

_FILE = Path(__file__).resolve().parents[1] / "cycle" / "cycle_helpers.py"
_spec = importlib.util.spec_from_file_location("_cycle_helpers_for_scaleout", _FILE)
assert _spec is not None
assert _spec.loader is not None
helpers = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = helpers
_spec.loader.exec_module(helpers)


def finished_accounts() -> list[FinishedAccount]:
    accounts, lines = helpers.population(30)
    closer = CycleCloser(parse_close_policy(helpers.POLICY_YAML), helpers.NOV)
    by_account = lines_by_account(MemoryLedger(lines), helpers.NOV.key,
                                  [a.account_id for a in accounts])
    out = []
    for a in accounts:
        result = closer(a, by_account.get(a.account_id, ()))
        if isinstance(result, SkippedAccount):
            out.append(FinishedAccount(a.account_id, None, result))
        else:
            out.append(FinishedAccount(a.account_id, result, None,
                                       (("xml", f"<bill id='{result.bill_id}'/>".encode()),)))
    return out


def test_postgres_holds_what_sqlite_holds(require_service: Callable[[str], None],
                                          tmp_path: Path) -> None:
    cycle = helpers.NOV.key
    finished = finished_accounts()
    sqlite = SQLiteBillStore(tmp_path / "bills.db")
    sqlite.write(cycle, finished)
    with pg_schema(require_service) as schema:
        pg = PostgresBillStore(PG_URL, schema=schema)
        assert pg.write(cycle, finished[:10]) == set()
        # a second worker redoing an overlapping batch: the bills of the first 10 are left
        # alone (8: accounts 0 and 5 were skipped, and a skip is closed again)
        left_alone = pg.write(cycle, finished)
        assert left_alone == {f.account_id for f in finished[:10] if f.bill is not None}
        assert len(left_alone) == 8
        # a rerun's new outcome for a skipped account replaces the skip (one row each)
        again = [f for f in finished if f.skipped is not None and f.skipped.reason ==
                 "no-charges"][:1]
        redo = [FinishedAccount(again[0].account_id, None,
                                SkippedAccount(again[0].account_id, "rerun-test"))]
        assert pg.write(cycle, redo) == set()
        assert sqlite.write(cycle, redo) == set()
        assert "rerun-test" in {s.reason for s in pg.totals(cycle).skipped}
        want, got = sqlite.totals(cycle), pg.totals(cycle)
        assert (got.bills, got.skipped, got.totals) == (want.bills, want.skipped, want.totals)
        # 30 accounts: 3 without subscribers, 3 without charges -> 24 bills
        assert got.bills == 24
        assert pg.finished_accounts(cycle) == sqlite.finished_accounts(cycle)
        assert set(pg.bill_counts(cycle).values()) == {1}  # exactly one bill each
        billed = next(f for f in finished if f.bill is not None)
        assert billed.bill is not None
        assert pg.document(cycle, billed.account_id) == (
            f"<bill id='{billed.bill.bill_id}'/>".encode())
        assert pg.document(cycle, billed.account_id, "html") is None
        assert dict(pg.documents(cycle)) == dict(sqlite.documents(cycle))
        with pytest.raises(StoreError, match="document format"):
            pg.document(cycle, billed.account_id, "pdf")
        pg.close()
    sqlite.close()
