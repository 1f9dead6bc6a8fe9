"""Fixtures of the cycle-close tests (data helpers live in ``cycle_helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cycle_helpers import NOV, POLICY_YAML, population

from telcoflow.billing.cycle import BillCycle, BillingAccount, ClosePolicy, parse_close_policy
from telcoflow.stores.sqlite import SQLiteAccounts, SQLiteLedger


@pytest.fixture
def policy() -> ClosePolicy:
    return parse_close_policy(POLICY_YAML, "policy.yaml")


@pytest.fixture
def cycle() -> BillCycle:
    return NOV


@pytest.fixture
def sqlite_sources(tmp_path: Path) -> tuple[Path, Path, list[BillingAccount]]:
    """A 600-account population in SQLite files (ledger, accounts)."""
    accounts, lines = population(600)
    ledger_path, accounts_path = tmp_path / "ledger.db", tmp_path / "accounts.db"
    ledger, directory = SQLiteLedger(ledger_path), SQLiteAccounts(accounts_path)
    ledger.write(lines)
    directory.write(accounts)
    ledger.close()
    directory.close()
    return ledger_path, accounts_path, accounts
