"""The ``ledger``, ``discount`` and ``tax`` steps: charges posted as ledger lines."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from telcoflow.billing.batch import Batch
from telcoflow.billing.steps._shared import (
    _HUNDRED,
    _ZERO,
    _intern,
)
from telcoflow.events import (
    base_item_type,
)
from telcoflow.ledger import (
    LineKey,
    Posting,
    discount_cap_key,
)
from telcoflow.rating.tax import TaxRules


class Ledger:
    """Merge charges into the ledger by account, subscriber, item type and period."""

    __slots__ = ("_keys",)
    name = "ledger"
    needs = ("rated",)
    provides = ("posted",)

    def __init__(self) -> None:
        self._keys: dict[LineKey, LineKey] = {}

    def __call__(self, batch: Batch) -> None:
        """Post every charge's gross amount."""
        ledger = batch.tx.changes.ledger
        keys = self._keys
        for item in batch.items:
            if not item.charges:
                continue
            account = item.account
            assert account is not None
            sub = item.event.subscriber
            effects = item.effects
            for c in item.charges:
                # inlined LedgerTransaction.post (the hottest write)
                key = (account.id, sub, c.item_type, item.post_period, account.currency)
                key = keys.get(key) or _intern(keys, key)
                gross, quantity = c.gross, c.quantity
                line = ledger.get(key)
                if line is None:
                    ledger[key] = [gross, quantity]
                else:
                    line[0] += gross
                    line[1] += quantity
                effects.append(Posting((key, gross, quantity)))


class Discount:
    """Real-time discounts: percent off some item types, capped per account and period.

    The discount is posted as a negative ``discount`` line of the subscriber.
    """

    __slots__ = ()
    name = "discount"
    needs = ("posted",)
    provides = ("discounted",)

    def __call__(self, batch: Batch) -> None:
        """Apply each account's discount rules."""
        tx = batch.tx
        for item in batch.items:
            account = item.account
            if account is None or not account.discounts or not item.charges:
                continue
            for c in item.charges:
                for rule in account.discounts:
                    if c.gross <= 0 or base_item_type(c.item_type) not in rule.item_types:
                        continue
                    amount = c.gross * rule.percent / _HUNDRED
                    if rule.cap is not None:
                        key = discount_cap_key(account.id, rule.name, item.post_period)
                        room = rule.cap - tx.counter(key)
                        if amount > room:
                            amount = room if room > 0 else _ZERO
                        if amount:
                            tx.add(item.effects, key, amount)
                    if amount:
                        c.discount += amount
                        tx.post(item.effects, (account.id, item.event.subscriber, "discount",
                                               item.post_period, account.currency),
                                -amount)


class Tax:
    """Exclusive tax on each charge's net, posted as a ``tax`` line (the real-time figure).

    Built from the catalog's :class:`~telcoflow.rating.tax.TaxRules`
    (``Tax(TaxRules(catalog))``), a charge's rate is that of its category under the
    subscriber's offering (price, tariff, offering, catalog default); without rules, the
    account profile's ``tax_rates`` by item type. The posted tax is exact (unrounded): the
    cycle close rounds it by the catalog's rule, records what the ledger held as the bill's
    ``ledger_tax`` and bills the rule's figure (see docs/cycle-close.md). A charge whose
    category is inclusive there (a device price with the tax inside) adds no tax: its line
    holds the price, tax included, and the close extracts the tax from it.
    """

    __slots__ = ("_fractions", "_keys", "rules")
    name = "tax"
    needs = ("discounted",)
    provides = ("taxed",)

    def __init__(self, rules: TaxRules | None = None) -> None:
        self._keys: dict[LineKey, LineKey] = {}
        self.rules = rules
        self._fractions: dict[tuple[str, str], Decimal] = {}

    def _fraction(self, rules: TaxRules, offer: str, item_type: str) -> Decimal:
        """The fraction of a charge's net added as tax (0 for an inclusive rate: the tax is
        inside the price, which the charge's own line holds)."""
        key = (offer, item_type)
        found = self._fractions.get(key)
        if found is None:
            category = rules.category(offer, item_type)
            rate = rules.rate(category)
            found = self._fractions[key] = (
                _ZERO if rules.inclusive(category) else rate / _HUNDRED)
        return found

    def __call__(self, batch: Batch) -> None:
        """Compute and post the tax of every charge."""
        ledger = batch.tx.changes.ledger
        keys = self._keys
        rules = self.rules
        for item in batch.items:
            account = item.account
            if account is None or not item.charges:
                continue
            if rules is not None:
                sub = item.subscriber
                offer = sub.offer if sub is not None else ""
                rates: Mapping[str, Decimal] = {
                    c.item_type: self._fraction(rules, offer, c.item_type)
                    for c in item.charges}
            elif not account.tax_rates:
                continue
            else:
                rates = account.tax_rates
            for c in item.charges:
                rate = rates.get(c.item_type)  # inlined AccountProfile.tax_rate
                if rate is None:
                    rate = rates.get(base_item_type(c.item_type))  # a price's own fee
                    if rate is None:
                        rate = rates.get("*", _ZERO)
                if rate:
                    c.tax_rate = rate
                    c.tax = tax = (c.gross - c.discount if c.discount else c.gross) * rate
                    key = (account.id, item.event.subscriber, "tax", item.post_period,
                           account.currency)
                    key = keys.get(key) or _intern(keys, key)
                    line = ledger.get(key)
                    if line is None:
                        ledger[key] = [tax, _ZERO]
                    else:
                        line[0] += tax
                    item.effects.append(Posting((key, tax, _ZERO)))
