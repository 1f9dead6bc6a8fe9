"""Shared helpers of the billing tests: a small operator and a pipeline factory."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as Dec
from typing import Any

from telcoflow.accounts import (
    AccountProfile,
    DictProfiles,
    DiscountRule,
    SplitPolicy,
    SubscriberAllowance,
    SubscriberProfile,
)
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.billing.recurring import RecurringFees
from telcoflow.events import UsageEvent
from telcoflow.ledger import LedgerStore
from telcoflow.rating.rater import TableRater, UnitTariff
from telcoflow.stores.memory import MemoryLedgerStore

NOV = datetime(2026, 11, 10, 12, 0)


def tariffs(data_price: str = "0.05") -> TableRater:
    """Data 0.05/MB at home, roaming 0.10/MB; voice 0.01/s after 60 s then per 30 s."""
    return TableRater({
        ("data", "home", ""): UnitTariff("data", Dec(data_price)),
        ("data", "*", ""): UnitTariff("roaming", Dec("0.10")),
        ("voice", "*", ""): UnitTariff("voice", Dec("0.01"), step=Dec(30), minimum=Dec(60)),
        ("sms", "*", ""): UnitTariff("sms", Dec("0.10")),
    })


def world() -> DictProfiles:
    """Accounts: post (postpaid, limit 200), pre (prepaid), corp + emp (split), fam (discount)."""
    post = AccountProfile("post", credit_limit=Dec("200.00"))
    pre = AccountProfile("pre", prepaid=True)
    corp = AccountProfile("corp")
    emp = AccountProfile("emp", split=SplitPolicy("corp", frozenset({"recurring", "data"}),
                                                   Dec("80.00")))
    taxed = AccountProfile("taxed", tax_rates={"*": Dec("0.20")})
    fam = AccountProfile("fam", discounts=(
        DiscountRule("fam10", Dec(10), frozenset({"data"}), Dec("1.00")),))
    bucket = SubscriberAllowance("d100", Dec(100), frozenset({"data"}), frozenset({"home"}))
    return DictProfiles(
        [post, pre, corp, emp, taxed, fam],
        [
            SubscriberProfile("s-post", post, "plus"),
            SubscriberProfile("s-pre", pre, "go"),
            SubscriberProfile("s-emp", emp, "corp"),
            SubscriberProfile("s-taxed", taxed, "plus"),
            SubscriberProfile("s-fam", fam, "plus"),
            SubscriberProfile("s-bucket", post, "plus", (bucket,)),
        ],
    )


FEES = RecurringFees({"plus": Dec("30.00"), "go": Dec("0.00"), "corp": Dec("60.00"),
                      "max": Dec("45.00")}, device_fee=Dec("6.00"))


def make_billing(store: LedgerStore | None = None, **kwargs: Any) -> RealtimeBilling:
    """A pipeline over :func:`world` and :func:`tariffs` (memory store by default)."""
    graph = default_graph(world(), tariffs(), fees=FEES, **kwargs)
    return RealtimeBilling(store if store is not None else MemoryLedgerStore(), graph)


def data(eid: str, sub: str, account: str, mb: int | str, *, zone: str = "home",
         at: datetime = NOV) -> UsageEvent:
    """A data usage event of ``mb`` MB."""
    return UsageEvent(eid, sub, account, "data", at, Dec(mb), "MB", zone)
