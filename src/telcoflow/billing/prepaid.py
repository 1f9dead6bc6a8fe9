"""Prepaid balances: the floor a balance never goes below, debt beyond it, hybrid funding.

One home for the rules the real-time graph (:class:`~telcoflow.billing.steps.CreditControl`)
and online charging (:class:`~telcoflow.billing.charging.OnlineCharging`) share:

- a prepaid account's balance is the counter ``bal|<account>``; its **floor** is
  ``-overdraft_limit`` of the account profile (0 by default: never below zero);
- a charge is paid from the balance down to the floor; what is left (offline usage the
  network did not reserve) is **debt**, the counter ``debt|<account>``, and is notified;
- a top-up (or a credit) repays the debt first, then fills the balance; the top-ups of each
  period are summed in ``topup|<account>|<period>``;
- a **hybrid** account (prepaid usage, postpaid fees) pays some item types postpaid
  (``AccountProfile.postpaid_items``): :func:`funding` derives them from the catalog's
  offering ``kind``.

The balance and the debt account for every cent: ``balance - debt`` is the top-ups less
the charges paid that way (so a prepaid statement's closing balance ``opening + top-ups -
used`` is ``balance - debt``).

A balance of 12.60 and a charge of 20.00 with no overdraft: 12.60 from the balance
(balance 0.00), 7.40 debt; a top-up of 10.00 then repays 7.40 and leaves a balance of 2.60.

>>> split_debit(Decimal("12.60"), Decimal("20.00"), Decimal(0))
(Decimal('12.60'), Decimal('7.40'))
>>> split_credit(Decimal("7.40"), Decimal("10.00"))
(Decimal('7.40'), Decimal('2.60'))
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from telcoflow.catalog import Catalog, ExternalPrice, OneTimePrice, RecurringPrice
from telcoflow.errors import DefinitionError, Problem
from telcoflow.money import MONEY_CONTEXT

__all__ = [
    "Funding",
    "funding",
    "split_credit",
    "split_debit",
]

_ZERO = Decimal(0)
_CTX = MONEY_CONTEXT


def split_debit(balance: Decimal, amount: Decimal, floor: Decimal) -> tuple[Decimal, Decimal]:
    """``(from the balance, debt)`` of a charge ``amount`` >= 0 on ``balance``.

    The balance pays down to ``floor`` (0, or minus the overdraft limit); the rest is debt.
    A balance already below the floor pays nothing.
    """
    with decimal.localcontext(_CTX):
        room = balance - floor
        if amount <= room:
            return amount, _ZERO
        paid = room if room > 0 else _ZERO
        return paid, amount - paid


def split_credit(debt: Decimal, amount: Decimal) -> tuple[Decimal, Decimal]:
    """``(debt repaid, to the balance)`` of a top-up or credit ``amount`` >= 0."""
    with decimal.localcontext(_CTX):
        repaid = min(debt, amount) if debt > 0 else _ZERO
        return repaid, amount - repaid


@dataclass(frozen=True, slots=True)
class Funding:
    """How an account pays: ``prepaid`` (from a balance), and the item types that are
    billed postpaid even so (``postpaid_items``, a hybrid account).

    Pass both to :class:`~telcoflow.accounts.AccountProfile`.
    """

    prepaid: bool
    postpaid_items: frozenset[str] = frozenset()


#: the ledger item type each fee price type posts to (see ``telcoflow.events.FEE_TYPES``)
_FEE_ITEMS: dict[type, str] = {RecurringPrice: "recurring", OneTimePrice: "one_time",
                               ExternalPrice: "external"}


def _fee_items(catalog: Catalog, offering_id: str, on: date | None) -> set[str]:
    offering = catalog.offering(offering_id, on=on)
    items = set()
    for price in offering.prices:
        if isinstance(price, RecurringPrice) and price.per == "device":
            items.add("device")
        elif type(price) in _FEE_ITEMS:
            items.add(_FEE_ITEMS[type(price)])
    return items


def funding(catalog: Catalog, offerings: Iterable[str], *, on: date | None = None) -> Funding:
    """How an account holding ``offerings`` pays, from each offering's ``kind``.

    An account holding an offering of kind ``prepaid`` is prepaid: its usage, and the fees
    of its prepaid offerings, are paid from the balance. The fees of the other offerings it
    holds (a postpaid plan, an add-on) are billed postpaid: a hybrid account. When a prepaid
    and a postpaid offering charge the same kind of fee (both ``recurring``, say) the ledger
    line cannot tell them apart, and :class:`~telcoflow.errors.DefinitionError` names both.
    Unknown offerings raise :class:`~telcoflow.errors.DefinitionError` too.
    """
    held = list(offerings)
    kinds: dict[str, str] = {}
    problems: list[Problem] = []
    for offering_id in held:
        try:
            kinds[offering_id] = catalog.offering(offering_id, on=on).kind
        except KeyError as exc:
            problems.append(Problem(f"funding: {exc.args[0] if exc.args else exc}",
                                    "E-funding-offering"))
    if problems:
        raise DefinitionError(problems)
    prepaid = [o for o in held if kinds[o] == "prepaid"]
    if not prepaid:
        return Funding(False)
    on_balance: dict[str, str] = {}
    for offering_id in prepaid:
        for item in _fee_items(catalog, offering_id, on):
            on_balance.setdefault(item, offering_id)
    billed: dict[str, str] = {}
    for offering_id in held:
        if kinds[offering_id] == "prepaid":
            continue
        for item in sorted(_fee_items(catalog, offering_id, on)):
            if item in on_balance:
                problems.append(Problem(
                    f"funding: prepaid offering {on_balance[item]!r} and {kinds[offering_id]} "
                    f"offering {offering_id!r} both charge {item!r} fees; one account cannot "
                    f"pay one from its balance and bill the other", "E-funding-ambiguous"))
            billed.setdefault(item, offering_id)
    if problems:
        raise DefinitionError(problems)
    return Funding(True, frozenset(billed))
