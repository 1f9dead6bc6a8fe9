"""Online charging rates through the real-time graph: period tiers, tax and the offline path
agree (issue #12). Every expected amount is worked out by hand in the comment beside it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as Dec

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_billing_period_rating import GRADUATED, NOV, catalog_with, data_total, usage

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.charging import OnlineCharging
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.errors import EventRejectedError
from telcoflow.ledger import ChangeSet
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.stores.memory import MemoryLedgerStore


class World:
    """Subscriber s1 of account a-s1 on the graduated GB tariff; online and offline share
    one store and one graph."""

    def __init__(self, *, prepaid: bool = False, balance: str = "0",
                 tax: str | None = None) -> None:
        rates = {"*": Dec(tax)} if tax is not None else {}
        self.account = AccountProfile("a-s1", prepaid=prepaid, tax_rates=rates)
        profiles = DictProfiles([self.account], [SubscriberProfile("s1", self.account, "plan")])
        rater = CatalogRater(catalog_with(GRADUATED, unit="GB", price_unit="GB"))
        self.store = MemoryLedgerStore()
        if prepaid:
            self.store.apply(ChangeSet(counters={"bal|a-s1": Dec(balance)}))
        graph = default_graph(profiles, rater).build()
        self.offline = RealtimeBilling(self.store, graph)
        self.online = OnlineCharging(self.store, profiles, rater, graph=graph,
                                     usage_types={10: "data"})


def test_online_and_offline_usage_fill_the_same_tiers() -> None:
    w = World()
    # a session commits 12 GB: 3.00 flat + 10 x 2.00 + 2 x 1.00 = 25.00
    w.online.initial("sess", "s1", 10, Dec(12), NOV)
    commit = w.online.terminate("sess", 10, Dec(12), NOV)
    assert commit.amount == Dec("25.00")
    # 30 GB offline: tier 2 from 12 to 42 GB, 30 x 1.00 = 30.00
    w.offline.process([usage("e2", "s1", 30, unit="GB")])
    # 20 GB charged online at once: 8 x 1.00 (to 50 GB) + 12 x 0.50 = 14.00
    answer = w.online.charge_event(usage("e3", "s1", 20, unit="GB"))
    assert (answer.granted, answer.amount) == (True, Dec("14.00"))
    # the period: 25 + 30 + 14 = 69.00, as the 62 GB cost when rated at once
    assert data_total(w.offline, "s1") == Dec("69.00")


def test_a_grant_counts_the_period_tiers_and_the_tax() -> None:
    w = World(prepaid=True, balance="30.00", tax="0.20")
    w.offline.process([usage("e1", "s1", 10, unit="GB")])
    # 10 GB: 3.00 + 20.00 = 23.00 + 20 % tax 4.60 = 27.60 from 30.00: 2.40 left
    assert w.store.get_counters(["bal|a-s1"]) == {"bal|a-s1": Dec("2.40")}
    # tier 2 now: 1.00/GB + 20 % = 1.20 per GB; 2.40 buys 2 GB of the 5 asked
    grant = w.online.initial("sess", "s1", 10, Dec(5), NOV)
    assert (grant.units, grant.final_unit) == (Dec(2), True)
    # committing the 2 GB takes exactly the 2.40 left
    w.online.terminate("sess", 10, Dec(2), NOV)
    assert w.store.get_counters(["bal|a-s1"]) == {"bal|a-s1": Dec("0.00")}


def test_an_event_charge_counts_the_tax_against_the_balance() -> None:
    w = World(prepaid=True, balance="12.00", tax="0.20")
    # 5 GB: 3.00 + 10.00 = 13.00 net, 15.60 with tax > 12.00: refused, nothing written
    refused = w.online.charge_event(usage("e1", "s1", 5, unit="GB"))
    assert (refused.granted, refused.amount, refused.available) == (False, Dec("13.00"),
                                                                    Dec("12.00"))
    assert "costs 15.6" in refused.reason
    assert w.store.lines() == []
    # 4 GB: 3.00 + 8.00 = 11.00 + 2.20 tax = 13.20 > 12.00: refused too; 3 GB: 9.00 + 1.80
    # = 10.80 fits
    assert not w.online.charge_event(usage("e2", "s1", 4, unit="GB")).granted
    assert w.online.charge_event(usage("e3", "s1", 3, unit="GB")).granted
    assert w.store.get_counters(["bal|a-s1"]) == {"bal|a-s1": Dec("1.20")}


def test_a_commit_the_graph_rejects_is_an_error_and_a_dead_letter() -> None:
    w = World()
    w.online.initial("sess", "s1", 10, Dec(1), NOV, zone="")
    # the used units are posted as the event occ|sess|10|1, which the graph's validation
    # refuses (a usage event needs a zone): the error names it, its dead letter is written
    with pytest.raises(EventRejectedError, match="zone") as info:
        w.online.terminate("sess", 10, Dec(1), NOV + timedelta(minutes=1))
    assert (info.value.event_id, info.value.reason) == ("occ|sess|10|1", "invalid")
    assert [d.event_id for d in w.store.dead_letters()] == ["occ|sess|10|1"]
    assert w.store.lines() == []


JUNK = st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2),
                 st.just("\ud800"), st.just(Dec("1E+999999")), st.just(Dec("NaN")),
                 st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
FIELDS = ("id", "subscriber", "account", "usage_type", "start", "quantity", "unit", "zone")


@given(st.one_of(JUNK.map(lambda junk: (None, junk)), st.tuples(st.sampled_from(FIELDS), JUNK)))
@settings(max_examples=80, deadline=None)
def test_anything_handed_to_charge_event_is_a_located_rejection(bad: tuple[str | None,
                                                                           object]) -> None:
    w = World(prepaid=True, balance="100.00")
    field, junk = bad
    event = junk if field is None else replace(usage("h1", "s1", 1, unit="GB"),
                                               **{field: junk})  # type: ignore[arg-type]
    with pytest.raises(EventRejectedError) as info:
        w.online.charge_event(event)  # type: ignore[arg-type]
    (dead,) = w.store.dead_letters()  # nothing lost: the rejection is kept with its reason
    assert dead.reason == info.value.reason
    assert w.store.lines() == []
    assert w.store.get_counters(["bal|a-s1"]) == {"bal|a-s1": Dec("100.00")}


@given(st.sampled_from(["session", "rating_group", "now", "requested", "used"]), JUNK)
@settings(max_examples=60, deadline=None)
def test_malformed_credit_control_requests_are_refused_as_invalid(field: str,
                                                                   junk: object) -> None:
    assume(not (field == "rating_group" and type(junk) is int))  # another group: no-reservation
    w = World(prepaid=True, balance="100.00")
    args: dict[str, object] = {"session": "sess", "rating_group": 10, "now": NOV,
                               "requested": Dec(1), "used": Dec(1)}
    w.online.initial("sess", "s1", 10, Dec(1), NOV)
    args[field] = junk
    if field == "requested":
        def request() -> object:
            return w.online.initial("s2", "s1", 10, junk, NOV)  # type: ignore[arg-type]
    else:
        def request() -> object:
            return w.online.terminate(args["session"], args["rating_group"],  # type: ignore[arg-type]
                                      args["used"], args["now"])  # type: ignore[arg-type]
    with pytest.raises(EventRejectedError) as info:
        request()
    assert info.value.reason == "invalid"
    assert w.store.lines() == []
    assert [r.session_id for r in w.online.open_reservations] == ["sess"]
