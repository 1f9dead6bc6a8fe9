"""KPIs: snapshot numbers and Prometheus exposition on an own registry."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as Dec

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.kpis import Histogram, Kpis
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.events import UsageEvent
from telcoflow.ops import exposition, registry_for
from telcoflow.rating.rater import TableRater, UnitTariff
from telcoflow.stores.memory import MemoryLedgerStore

AT = datetime(2026, 11, 3)


def pipeline() -> RealtimeBilling:
    acct = AccountProfile("a", credit_limit=Dec(1))
    profiles = DictProfiles([acct], [SubscriberProfile("s", acct)])
    rater = TableRater({("data", "*", ""): UnitTariff("data", Dec("0.01"))})
    return RealtimeBilling(MemoryLedgerStore(), default_graph(profiles, rater))


def run() -> RealtimeBilling:
    p = pipeline()
    good = [UsageEvent(f"e{i}", "s", "a", "data", AT, Dec(50)) for i in range(3)]
    p.process([*good, UsageEvent("bad", "s", "a", "data", AT, Dec(-1))])
    p.process(good[:1])
    return p


def test_snapshot_counts_events_and_steps() -> None:
    snap = run().kpis.snapshot()
    # 5 submitted: 3 rated, 1 invalid, then 1 duplicate
    assert (snap.submitted, snap.accepted, snap.duplicates) == (5, 4, 1)
    assert snap.rejected == {"invalid": 1}
    assert snap.rated == 3
    # 3 x 50 MB x 0.01 = 1.50 against a limit of 1.00: 80 % and 100 % notified
    assert snap.notifications == 2
    assert snap.batches == 2
    assert set(snap.steps) == {"validate", "deduplicate", "enrich", "rate", "ledger",
                               "discount", "tax", "split", "credit_control", "emit"}
    assert all(s.calls == 2 for s in snap.steps.values())
    assert snap.events_per_second > 0


def test_histogram_quantiles_use_bucket_bounds() -> None:
    h = Histogram()
    for s in [0.00002] * 99 + [0.02]:
        h.observe(s)
    assert h.quantile(0.5) == 0.000025
    assert h.quantile(0.99) == 0.000025
    assert h.quantile(1.0) == 0.025
    assert Histogram().quantile(0.99) == 0.0


def test_prometheus_exposition_parses_and_leaves_the_global_registry_alone() -> None:
    before = set(REGISTRY._names_to_collectors)
    p = run()
    text = exposition(p.kpis)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    events = {s.labels["outcome"]: s.value for s in families["telcoflow_events"].samples
              if s.name == "telcoflow_events_total"}
    assert events == {"submitted": 5.0, "accepted": 4.0, "duplicate": 1.0, "rejected": 1.0}
    reasons = [s for s in families["telcoflow_rejected_events"].samples
               if s.name.endswith("_total")]
    assert [(s.labels["reason"], s.value) for s in reasons] == [("invalid", 1.0)]
    counts = [s for s in families["telcoflow_step_seconds"].samples
              if s.name == "telcoflow_step_seconds_count" and s.labels["step"] == "rate"]
    assert counts[0].value == 2.0
    assert set(REGISTRY._names_to_collectors) == before
    assert registry_for(Kpis()) is not registry_for(Kpis())
