"""The host's decimal context changes nothing: the real-time path and the close compute in the
library's own context (issue #15). A host may set precision 6, another rounding and traps."""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal as Dec
from pathlib import Path

from test_billing_whole_path_properties import CATALOG, START, bill_of

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.events import Event, UsageEvent
from telcoflow.ledger import LedgerLine
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.stores.sqlite import SQLiteLedgerStore


def stream() -> list[Event]:
    # 30 x 1,234,567 MB of data: amounts of eight significant digits (a host's precision 6
    # would cut them)
    return [UsageEvent(f"d{i}", "s", "a", "data", START + timedelta(minutes=i),
                       Dec("1234567"), "MB") for i in range(30)] + [
        UsageEvent("v", "s", "a", "voice", START, Dec(61), "second")]


@contextmanager
def hostile() -> Iterator[None]:
    """What a host may do to its own decimal context: 6 digits, rounding down, traps."""
    with decimal.localcontext() as ctx:
        ctx.prec = 6
        ctx.rounding = decimal.ROUND_DOWN
        ctx.traps[decimal.Inexact] = True
        ctx.traps[decimal.Rounded] = True
        yield


def test_the_ledger_and_the_bill_ignore_the_host_context() -> None:
    reference, ref_store = bill_of(stream(), 7)
    with hostile():
        bill, store = bill_of(stream(), 7)
    # 37,037,010 MB = 37,037.01 GB: 3.00 + 10 x 2.00 + 40 x 1.00 + 36,987.01 x 0.50
    # = 63 + 18,493.505 = 18,556.505 (precision 6 rounding down would give 18,556.5)
    assert [ln.amount for ln in store.lines() if ln.item_type == "data"] == [Dec("18556.505")]
    assert store.lines() == ref_store.lines()
    assert bill == reference


def test_a_sqlite_ledger_and_its_replay_ignore_the_host_context(tmp_path: Path) -> None:
    account = AccountProfile("a")
    profiles = DictProfiles([account], [SubscriberProfile("s", account, "plan")])
    rater = CatalogRater(CATALOG)

    def write(path: Path) -> list[LedgerLine]:
        store = SQLiteLedgerStore(path, checkpoint_every=1000)
        RealtimeBilling(store, default_graph(profiles, rater)).process(stream())
        return SQLiteLedgerStore(path).lines()  # the first never closed: the journal replayed

    reference = write(tmp_path / "ref.db")
    with hostile():
        assert write(tmp_path / "hostile.db") == reference
    assert [ln.amount for ln in reference if ln.item_type == "data"] == [Dec("18556.505")]
