"""Data helpers of the cycle-close tests: a close policy, a November cycle, populations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from telcoflow.billing.cycle import BillCycle, BillingAccount, PayerRule, Subscription
from telcoflow.catalog import Catalog
from telcoflow.ledger import LedgerLine

#: The catalog of the close tests (plan fees, taxes, discounts), in tests/cycle/close-catalog.yaml
CATALOG_PATH = Path(__file__).with_name("close-catalog.yaml")
CATALOG_YAML = CATALOG_PATH.read_text(encoding="utf-8")

POLICY_YAML = f"""\
kind: close-policy
currency: EUR
catalog: {CATALOG_PATH}
payment_terms_days: 14
"""


def catalog() -> Catalog:
    """The test catalog (plans, taxes, discounts of the close tests)."""
    from telcoflow.loading.catalog import parse_catalog

    return parse_catalog(CATALOG_YAML, "cycle-catalog.yaml")


NOV = BillCycle.for_month(1, 2026, 11)


def line(account: str, sub: str, item: str, amount: str, qty: str = "1",
         period: str = NOV.key, currency: str = "EUR") -> LedgerLine:
    """A ledger line of the November cycle."""
    return LedgerLine(account, sub, item, period, currency, Decimal(amount), Decimal(qty))


def family_account(**kw: object) -> BillingAccount:
    """Account A: S1 on basic all month, S2 on family from 16 Nov, coupon W3, CORP pays plans."""
    base: dict[str, object] = {
        "account_id": "A", "name": "Ada & <Co>", "currency": "EUR",
        "subscriptions": (Subscription("S1", "basic"),
                          Subscription("S2", "family", start=date(2026, 11, 16))),
        "coupons": ("W3",),
        "payers": (PayerRule("CORP", frozenset({"recurring"}), Decimal("25.00")),),
        "previous_balance": Decimal("10.00"), "payments": Decimal("10.00"),
        "adjustments": Decimal("-2.00"), "address": ("1 Main St", "London")}
    base.update(kw)
    return BillingAccount(**base)  # type: ignore[arg-type]


FAMILY_LINES = (
    # plan fees as the real-time path posts them from the catalog: S1 basic 20.00 for the
    # month, S2 family 30.00 from 16 Nov: 15 of 30 days = 15.00
    line("A", "S1", "recurring", "20.00", "1"),
    line("A", "S2", "recurring", "15.00", "1"),
    line("A", "S1", "voice", "5.005", "300"),
    line("A", "S1", "data", "15.00", "2048"),
    line("A", "S2", "slice", "4.00", "2"),
)


def population(n: int) -> tuple[list[BillingAccount], list[LedgerLine]]:
    """``n`` accounts: every 10th has no subscribers, every 10th (+5) no charges, the rest
    voice + data usage (amounts vary with the index)."""
    accounts: list[BillingAccount] = []
    lines: list[LedgerLine] = []
    for i in range(n):
        aid = f"ACC{i:06d}"
        subs = () if i % 10 == 0 else (Subscription(f"{aid}-1", "basic"),)
        accounts.append(BillingAccount(aid, f"Customer {i}", "EUR", subscriptions=subs))
        if i % 10 not in (0, 5):
            lines.append(line(aid, f"{aid}-1", "voice", f"{i % 7}.{i % 100:02d}", "60"))
            lines.append(line(aid, f"{aid}-1", "data", f"{i % 13}.5", "100"))
    return accounts, lines


def billable(accounts: list[BillingAccount]) -> set[str]:
    """Ids of the accounts of :func:`population` that get a bill."""
    return {a.account_id for i, a in enumerate(accounts) if i % 10 not in (0, 5)}


