# %% [markdown]
# # A day of a stadium event with 5G offers
#
# The 5G rule packs of `rules/5g/` at work on one day (27 November 2026, a match in the
# north stadium from 18:00 to 21:00): the offer triggers fire when 5G fans without a pass
# enter the stadium, the recommender ranks and explains the next best offers, some fans buy
# the stadium slice pass, their usage is rated around the pass, and the partner benefits of
# the day are reported per partner (as text bars and an inline SVG: no matplotlib needed).
# The same code is `examples/5g_stadium.ipynb`; `python examples/5g_stadium.py` runs it.

# %%
from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from telcoflow.demo.charts import svg_bars, text_bars
from telcoflow.journeys.definition import load_journey
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.loading.catalog import load_catalog
from telcoflow.money import Money, RoundingPolicy
from telcoflow.offers import (
    BenefitHolding,
    HeldSlicePass,
    OfferTriggers,
    PortraitBuilder,
    Recommender,
    SlicePassRater,
    VenueEvent,
    benefit_lines,
    partner_report,
)
from telcoflow.offers.journeys import start_offer_journey
from telcoflow.rating.price_models import compile_tariffs
from telcoflow.rules.pack import load_pack
from telcoflow.shipped import shipped_path
from telcoflow.stores.memory import MemoryJourneyStore

HALF_UP = RoundingPolicy.HALF_UP
# the shipped files come with telcoflow (package data): no source checkout needed
CATALOG = load_catalog(shipped_path("examples/catalog", directory=True),
                       shipped_path("examples/catalog-5g", directory=True))
RULES = shipped_path("rules/5g", directory=True)
DAY = date(2026, 11, 27)
MATCH = VenueEvent.of("match-1", "stadium-north", "2026-11-27T18:00:00",
                      "2026-11-27T21:00:00")

# %% [markdown]
# ## The crowd
# 120 fans with usage portraits (segments from the portraits pack), 5G devices for most,
# and the plans and memberships they already hold.


# %%
def make_crowd(n: int = 120, seed: int = 7) -> list[dict[str, Any]]:
    """Fans with a portrait, a device and their offerings (deterministic)."""
    rng = random.Random(seed)
    portraits = PortraitBuilder(load_pack(RULES / "portraits.rules.yaml"))
    crowd = []
    for i in range(n):
        data_gb = Decimal(rng.randint(2, 80))
        usage = {"data_gb": data_gb, "video_gb": data_gb * Decimal(rng.randint(10, 90)) / 100,
                 "roaming_days": rng.choice([0, 0, 0, 1, 4]), "regions_visited": 1,
                 "gaming_hours": rng.choice([0, 0, 2, 15]), "urllc_sessions": 0,
                 "lines": rng.choice([1, 1, 2, 3]), "five_g_devices": rng.randint(1, 4)}
        portrait = portraits.portrait(f"fan-{i:03d}", usage)
        offerings = [rng.choice(["plan-5g-video", "postpaid-50", "prepaid-go"])]
        if rng.random() < 0.25:
            offerings.append("video-plus")
        if rng.random() < 0.2:
            offerings.append("music-plus")
        crowd.append({"id": portrait.subscriber, "segments": list(portrait.segments),
                      "five_g_device": rng.random() < 0.8, "offerings": offerings,
                      "has_pass": False,
                      "arrives": datetime(2026, 11, 27, 17, 0)
                      + timedelta(minutes=rng.randint(0, 110))})
    return crowd


# %% [markdown]
# ## Triggers, recommendations, purchases
# Entering the stadium during the match is a network event; the offer-triggers pack (on
# durable-rules where it imports) fires the stadium-pass offer at most once per match, the
# recommender checks eligibility and scores every candidate offer, and about half of the
# fans whose best offer is the pass accept it: the recommendation starts the slice-pass
# purchase journey (`journeys/slice_pass_purchase.yaml`), which checks the slice coverage,
# takes the payment and provisions the slice.


# %%
def run_offers(crowd: list[dict[str, Any]], seed: int = 7) -> dict[str, Any]:
    """Feed the arrivals to the triggers, recommend, and buy passes."""
    rng = random.Random(seed)
    triggers = OfferTriggers(load_pack(RULES / "offer-triggers.rules.yaml"), venues=[MATCH])
    recommender = Recommender.from_files(RULES / "recommend-weights.yaml", CATALOG)
    situation = {"scenario": "stadium", "region": "stadium-north", "venue_event": "match-1",
                 "network_quality": "poor"}
    journey = load_journey(shipped_path("journeys/slice_pass_purchase.yaml"))
    runtime = JourneyRuntime(MemoryJourneyStore(),
                             [journey], actions=dict.fromkeys(journey.actions, _noop))
    outcomes: dict[str, int] = {}
    offered: list[Any] = []
    bought: dict[str, HeldSlicePass] = {}
    explanations: list[str] = []
    for fan in crowd:
        event = {"type": "region-enter", "subscriber": fan["id"],
                 "time": fan["arrives"].isoformat(), "region": "stadium-north",
                 "five_g": fan["five_g_device"], "has_pass": fan["has_pass"]}
        for offer in triggers.process(event):
            offered.append(offer)
            result = recommender.recommend(fan, {**situation, "time": event["time"]})
            if len(explanations) < 2:
                explanations.append(result.explain())
            if result.offers[:1] == ["stadium-pass-3h"] and rng.random() < 0.5:
                inst = start_offer_journey(result.chosen[0], runtime, subscriber=fan["id"])
                steps = [("select_pass", {"pass_id": "stadium-pass-3h",
                                          "venue": "stadium-north"}),
                         ("no_coverage" if rng.random() < 0.05 else "coverage_confirmed", {}),
                         ("payment_succeeded", {}), ("slice_provisioned", {})]
                for trigger, payload in steps:
                    if inst.state in ("completed", "rejected"):
                        break
                    runtime.send(inst, trigger, payload, channel="app")
                outcomes[inst.state] = outcomes.get(inst.state, 0) + 1
                if inst.state == "completed":
                    fan["has_pass"] = True
                    bought[fan["id"]] = HeldSlicePass.from_catalog(
                        CATALOG, "stadium-pass-3h", subscriber=fan["id"],
                        start=fan["arrives"])
        # the same fan seen again during the match: no second offer
        triggers.process({**event, "time": (fan["arrives"] + timedelta(minutes=30))
                          .isoformat()})
    backend = triggers.backend
    suppressed = triggers.suppressed
    triggers.close()
    return {"offered": offered, "bought": bought, "explanations": explanations,
            "backend": backend, "suppressed": suppressed, "journeys": outcomes}


def _noop(**_: Any) -> None:
    """Stands in for the host's journey actions (coverage check, payment, provisioning)."""


# %% [markdown]
# ## Travellers on the coast
# The same day, travellers on the scenic coastal route: once one has used more than 1 GB
# today, the offer-triggers pack offers the scenic live broadcast (once a day); some buy it.


# %%
def run_travellers(n: int = 30, seed: int = 5) -> dict[str, Any]:
    """Usage of travellers through the day; scenic-live offers and purchases."""
    rng = random.Random(seed)
    triggers = OfferTriggers(load_pack(RULES / "offer-triggers.rules.yaml"))
    bought = []
    offered = 0
    for i in range(n):
        who = f"traveller-{i:02d}"
        for hour in range(8, 20, 2):
            event = {"type": "usage", "subscriber": who, "segments": ["traveller"],
                     "time": f"2026-11-27T{hour:02d}:00:00", "region": "scenic-coast",
                     "volume_mb": rng.randint(50, 400)}
            for _offer in triggers.process(event):
                offered += 1
                if rng.random() < 0.6:
                    bought.append(who)
    triggers.close()
    return {"offered": offered, "bought": bought}


# %% [markdown]
# ## Rating the day
# Everyone streams during the match; pass holders' usage is rated around the pass (free
# inside the window, region and volume; normal tariff otherwise), the others' at the
# normal data tariff.


# %%
def usage_of(fan: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """A fan's data sessions of the day (MB), in and around the stadium."""
    events = []
    start = max(fan["arrives"], datetime(2026, 11, 27, 18, 0))
    for k in range(rng.randint(2, 6)):
        t = start + timedelta(minutes=20 * k + rng.randint(0, 15))
        region = "stadium-north" if t.hour < 21 else "capital"
        events.append({"id": f"{fan['id']}-{k}", "time": t.isoformat(), "region": region,
                       "volume_mb": rng.randint(100, 2200)})
    return events


def rate_day(crowd: list[dict[str, Any]], bought: dict[str, HeldSlicePass],
             seed: int = 11) -> dict[str, Any]:
    """Rate every fan's usage of the day; pass fees, free MB, normal-tariff amounts."""
    rng = random.Random(seed)
    rater = SlicePassRater(load_pack(RULES / "slice-pass.rules.yaml"), CATALOG)
    data = compile_tariffs(CATALOG)["data"]
    eur = CATALOG.default_currency
    fees, usage_amount, free_mb = Money.zero(eur), Money.zero(eur), Decimal(0)
    examples: list[Any] = []
    for fan in crowd:
        events = usage_of(fan, rng)
        if fan["id"] in bought:
            bill = rater.rate(bought[fan["id"]], events)
            fees += bill.fee
            usage_amount += bill.usage_amount
            free_mb += bill.free_mb
            if not examples and bill.usage_amount.amount > 0:
                examples.append(bill)
        else:
            total_mb = sum((Decimal(e["volume_mb"]) for e in events), Decimal(0))
            usage_amount += data.rate(total_mb, zone="home").amount
    return {"fees": fees, "usage": usage_amount, "free_mb": free_mb, "example": examples}


# %% [markdown]
# ## Partner revenue of the day
# The partner benefits held by the crowd, for this one day of a 30-day November cycle
# (the included StreamFlix of the 5G Max plan costs the operator its wholesale fee), and
# the scenic live broadcasts bought by the travellers (ArenaCast, priced per day).


# %%
def partners_of_the_day(crowd: list[dict[str, Any]], travellers: list[str]) -> Any:
    """Benefit lines of the crowd and the travellers for the day, summed per partner."""
    pack = load_pack(RULES / "partner-benefits.rules.yaml")
    holdings = [BenefitHolding(fan["id"], offering, DAY, DAY, cycle_index=3)
                for fan in crowd for offering in fan["offerings"]
                if CATALOG.offering(offering).benefits]
    holdings += [BenefitHolding(who, "scenic-live", DAY, DAY) for who in travellers]
    lines = benefit_lines(pack, CATALOG, holdings, cycle_start=date(2026, 11, 1))
    return partner_report(lines, CATALOG)


# %%
def main(out: Callable[[str], Any] = print) -> dict[str, Any]:
    """Run the day and print what happened; return the figures."""
    crowd = make_crowd()
    offers = run_offers(crowd)
    coast = run_travellers()
    day = rate_day(crowd, offers["bought"])
    report = partners_of_the_day(crowd, coast["bought"])
    out(f"{len(crowd)} fans; stadium-pass offers made: {len(offers['offered'])} "
        f"(backend {offers['backend']}, {offers['suppressed']} repeats suppressed); "
        f"passes bought: {len(offers['bought'])} (purchase journeys: {offers['journeys']})")
    out(f"travellers: {coast['offered']} scenic-live offers, {len(coast['bought'])} bought")
    for text in offers["explanations"]:
        out(text)
    if day["example"]:
        bill = day["example"][0]
        out(f"example pass bill for {bill.slice_pass.subscriber}: fee {bill.fee}, "
            f"{bill.free_mb} MB free, normal tariff {bill.usage_amount.rounded(HALF_UP)}, "
            f"total {bill.total.rounded(HALF_UP)}")
        for u in bill.events:
            out(f"  {u.event_id}: {u.volume_mb} MB -> free {u.free_mb}, billed "
                f"{u.billed_mb} ({u.reason})")
    out(f"pass fees {day['fees']}, usage at the normal tariff "
        f"{day['usage'].rounded(HALF_UP)}, "
        f"{day['free_mb']} MB carried free by passes")
    out("partner benefits of the day:")
    for row in report.rows():
        out(f"  {row['partner']:<11} customer {row['customer']:>7}  partner cost "
            f"{row['partner_cost']:>7}  revenue share {row['revenue_share']:>6}  "
            f"lines {row['lines']}")
    out("customer revenue by partner:")
    out(text_bars(report.by_partner("customer"), unit=" EUR"))
    out("paid to each partner:")
    out(text_bars(report.by_partner("partner_cost"), unit=" EUR"))
    svg = svg_bars(report.by_partner("customer"), title="Customer revenue by partner (EUR)")
    try:  # show the chart inline when running in a notebook
        from IPython.display import SVG, display  # type: ignore[import-not-found]

        get_ipython  # type: ignore[name-defined]  # noqa: B018
        display(SVG(svg))
    except (ImportError, NameError):
        pass
    return {"crowd": crowd, "offers": offers, "coast": coast, "day": day, "report": report,
            "svg": svg}


if __name__ == "__main__":
    summary = main()
