"""The ``split`` step: who pays each charge (payer rules)."""

from __future__ import annotations

from decimal import Decimal

from telcoflow.accounts import AccountProfile, ProfileCache
from telcoflow.billing.batch import Batch, Item
from telcoflow.billing.steps._shared import (
    _ZERO,
)
from telcoflow.events import (
    Charge,
    base_item_type,
)
from telcoflow.ledger import (
    cap_key,
)


class Split:
    """Split charges between payers (corporate pays up to a cap, hierarchical accounts).

    The share moved to a payer is posted as ``-x`` on the account's line and ``+x`` on the
    payer's line of the same item type (and the same for its tax), so parts always sum to
    the whole. Caps are counted per paid-for account and period (``cap|<account>|<period>``).
    """

    __slots__ = ("profiles",)
    name = "split"
    needs = ("taxed",)
    provides = ("split",)

    def __init__(self, profiles: ProfileCache) -> None:
        self.profiles = profiles

    def __call__(self, batch: Batch) -> None:
        """Fill every charge's ``shares``."""
        for item in batch.items:
            account = item.account
            if account is None or not item.charges:
                continue
            split = account.split
            for c in item.charges:
                net = c.gross - c.discount if c.discount else c.gross
                if split is None:
                    c.shares = [(account.id, net, c.tax)]
                    continue
                c.shares = self._split(batch, item, account, c, net)

    def _split(self, batch: Batch, item: Item, account: AccountProfile, c: Charge,
               net: Decimal) -> list[tuple[str, Decimal, Decimal]]:
        tx = batch.tx
        sub = item.event.subscriber
        period = item.post_period
        shares: list[tuple[str, Decimal, Decimal]] = []
        holder = account
        left_net, left_tax = net, c.tax
        visited = {holder.id}
        while True:
            policy = holder.split
            if (policy is None or policy.payer in visited
                    or (policy.item_types is not None
                        and base_item_type(c.item_type) not in policy.item_types)
                    or left_net <= 0):
                break
            moved = left_net
            if policy.cap is not None:
                key = cap_key(holder.id, period)
                room = policy.cap - tx.counter(key)
                if moved > room:
                    moved = room if room > 0 else _ZERO
                if moved:
                    tx.add(item.effects, key, moved)
            if not moved:
                break
            moved_tax = moved * c.tax_rate if moved != left_net else left_tax
            payer = self.profiles.account(policy.payer)
            if payer is None:
                payer_id = policy.payer
                currency = holder.currency
            else:
                payer_id = payer.id
                currency = payer.currency
            for item_type, amount in ((c.item_type, moved), ("tax", moved_tax)):
                if amount:
                    tx.post(item.effects, (holder.id, sub, item_type, period, holder.currency),
                            -amount)
                    tx.post(item.effects, (payer_id, sub, item_type, period, currency), amount)
            shares.append((holder.id, left_net - moved, left_tax - moved_tax))
            left_net, left_tax = moved, moved_tax
            visited.add(payer_id)
            if payer is None:
                holder = AccountProfile(payer_id, currency=currency)
                break
            holder = payer
        shares.append((holder.id, left_net, left_tax))
        return [s for s in shares if s[1] or s[2]] or [(account.id, net, c.tax)]
