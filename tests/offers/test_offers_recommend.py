"""Next-best-offer: eligibility, tunable scoring, explanations, journeys."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from offers_world import RULES, WEIGHTS, catalog

from telcoflow.errors import DefinitionError, EventRejectedError
from telcoflow.journeys.definition import parse_journey
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.offers import Recommender, load_recommendation_config, period_of
from telcoflow.offers.journeys import start_offer_journey
from telcoflow.stores.memory import MemoryJourneyStore

FAN = {"id": "s1", "segments": ["heavy-video"], "five_g_device": True,
       "offerings": ["plan-5g-video"]}
MATCH = {"scenario": "stadium", "region": "stadium-north", "venue_event": "match-1",
         "time": "2026-11-27T19:00:00", "network_quality": "poor"}


@pytest.fixture(scope="module")
def recommender() -> Recommender:
    return Recommender.from_files(WEIGHTS, catalog())


def test_the_stadium_pass_for_a_fan_at_a_match(recommender: Recommender) -> None:
    result = recommender.recommend(FAN, MATCH)
    assert result.offers == ["stadium-pass-3h"]
    rec = result.chosen[0]
    # base 1 + scenario 3 + live event 2.5 + segment 2 + network 1.5 + period 0.5
    # + device 0.5 - price 5.00 x 0.2 = 10.00
    assert rec.score == Decimal("10.00")
    assert [c.signal for c in rec.contributions] == [
        "scenario", "live_event", "segment", "network", "period", "device", "price"]
    assert rec.journey == "slice-pass-purchase"
    assert rec.reasons()[0] == "made for this scenario"
    excluded = {e.offer: e.reasons for e in result.excluded}
    assert excluded["scenic-live"] == ("not sold in this region",)
    # video-plus: segment 2 + period (evening) 0.5 - price 10.00 x 0.2 = 0.50 < min 1
    assert excluded["video-plus"] == ("score 0.5 is under the minimum 1",)
    text = result.explain()
    assert "1. stadium-pass-3h: score 10.00" in text
    assert "+1.50  network = 1 x 1.5: the network is congested here" in text
    assert "excluded scenic-live: not sold in this region" in text


def test_a_pass_holder_gets_no_pass(recommender: Recommender) -> None:
    result = recommender.recommend({**FAN, "has_pass": True}, MATCH)
    assert "stadium-pass-3h" not in result.offers
    assert {e.offer: e.reasons for e in result.excluded}["stadium-pass-3h"] == (
        "already has a pass",)


def test_a_4g_device_cannot_have_the_pass(recommender: Recommender) -> None:
    result = recommender.recommend({**FAN, "five_g_device": False}, MATCH)
    reasons = {e.offer: e.reasons for e in result.excluded}
    assert reasons["stadium-pass-3h"] == ("needs a 5G device",)
    assert reasons["home-5g"][0] == "needs a 5G device"


def test_a_traveller_on_the_scenic_route(recommender: Recommender) -> None:
    traveller = {"id": "t1", "segments": ["traveller"], "five_g_device": True}
    result = recommender.recommend(traveller, {"scenario": "travel", "region": "scenic-coast",
                                               "time": "2026-11-27T10:00:00"})
    # scenic-live: base 0.5 + scenario 3 + segment 2 + period (morning) 0.5 - 3.00 x 0.2
    # = 5.40; music-plus: scenario 3 + segment 2 + period 0.5 - 5.00 x 0.2 = 4.50
    assert [(r.offer, r.score) for r in result.chosen] == [
        ("scenic-live", Decimal("5.40")), ("music-plus", Decimal("4.50"))]


def test_top_limits_and_ranks(recommender: Recommender) -> None:
    family = {"id": "f1", "segments": ["family", "heavy-video", "gamer"],
              "five_g_device": True}
    home = {"scenario": "home", "region": "capital", "time": "2026-11-27T21:00:00"}
    result = recommender.recommend(family, home, top=1)
    # each matching segment counts: video-plus (heavy-video, family): scenario 3 + 2 + 2
    # + evening 0.5 - 10.00 x 0.2 = 5.50; home-5g (family, gamer): 3 + 2 + 2 + device 0.5
    # - 30.00 x 0.2 = 1.50; home-broadband-1g (3 segments): 3 + 6 - 40.00 x 0.2 = 1.00
    assert [(r.offer, r.score) for r in result.chosen] == [("video-plus", Decimal("5.50"))]
    ranked_out = {e.offer: e.score for e in result.excluded if e.score is not None}
    # music-plus: nothing matches, price 5.00 x -0.2 = -1.00, under the minimum 1
    assert ranked_out == {"home-5g": Decimal("1.50"), "home-broadband-1g": Decimal("1.00"),
                          "music-plus": Decimal("-1.00")}
    assert {e.offer for e in result.excluded} >= {"home-5g", "home-broadband-1g"}


def test_weights_retune_the_ranking(tmp_path: Path) -> None:
    # price weight 0 instead of -0.2: the home offers are no longer held back by their
    # monthly price
    text = WEIGHTS.read_text(encoding="utf-8").replace("price: -0.2", "price: 0")
    text = text.replace("pack: recommend", f"pack: {RULES / 'recommend'}")
    tuned = tmp_path / "weights.yaml"
    tuned.write_text(text, encoding="utf-8")
    rec = Recommender.from_files(tuned, catalog())
    family = {"id": "f1", "segments": ["family"], "five_g_device": True}
    result = rec.recommend(family, {"scenario": "home", "period": "afternoon"})
    # scenario 3 + family segment 2 (+ device 0.5 for home-5g); no period matches;
    # ties ranked by offer id
    assert [(r.offer, r.score) for r in result.chosen] == [
        ("home-5g", Decimal("5.5")), ("home-broadband-1g", Decimal("5")),
        ("video-plus", Decimal("5"))]


def test_a_weight_without_signal_and_a_signal_without_weight(tmp_path: Path) -> None:
    text = WEIGHTS.read_text(encoding="utf-8").replace("  period: 0.5\n", "  mood: 1\n")
    text = text.replace("pack: recommend", f"pack: {RULES / 'recommend'}")
    bad = tmp_path / "weights.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        Recommender.from_files(bad, catalog())
    messages = [str(p) for p in info.value.problems]
    assert any("signal 'period' of pack 'nova5g-recommend' has no weight" in m
               for m in messages), messages
    assert any("weight 'mood' names no signal" in m for m in messages), messages


def test_an_unknown_offer_is_located(tmp_path: Path) -> None:
    text = WEIGHTS.read_text(encoding="utf-8").replace("- id: music-plus", "- id: no-such")
    text = text.replace("pack: recommend", f"pack: {RULES / 'recommend'}")
    bad = tmp_path / "weights.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"\(\$\.offers\[3\]\.id\): offer 'no-such'"):
        Recommender.from_files(bad, catalog())


def test_the_tuning_file_is_validated_with_locations(tmp_path: Path) -> None:
    bad = tmp_path / "weights.yaml"
    bad.write_text("kind: offer-recommendation\ntop: 0\nweights: {scenario: 0.5}\n"
                   "offers:\n  - {id: a}\n  - {id: a}\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_recommendation_config(bad)
    assert "weights.yaml:2:1 ($.top): Input should be greater than or equal to 1" in str(
        info.value)
    bad.write_text("kind: offer-recommendation\nweights: {scenario: 1}\n"
                   "offers:\n  - {id: a}\n  - {id: a}\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"weights.yaml:5:6 .*listed twice"):
        load_recommendation_config(bad)


def test_periods() -> None:
    assert [period_of(f"2026-11-27T{h:02d}:00:00") for h in (5, 6, 11, 17, 22)] == [
        "night", "morning", "daytime", "evening", "night"]


JOURNEY = """\
kind: journey
id: slice-pass-purchase
version: 1
channels: [app]
triggers:
  confirm: {}
  pay: {}
  cancel: {}
states:
  offered:
    initial: true
    on: {confirm: paying, cancel: declined}
  paying:
    on: {pay: active}
  active: {outcome: completed}
  declined: {outcome: abandoned}
"""


def test_a_recommendation_starts_the_slice_pass_journey(recommender: Recommender) -> None:
    runtime = JourneyRuntime(MemoryJourneyStore(), [parse_journey(JOURNEY, "slice-pass.yaml")])
    rec = recommender.recommend(FAN, MATCH).chosen[0]
    inst = start_offer_journey(rec, runtime, subscriber="s1")
    assert inst.state == "offered"
    assert inst.context["offer_id"] == "stadium-pass-3h"
    assert inst.context["reasons"][0] == "made for this scenario"
    assert runtime.store.load(inst.id).id == inst.id
    assert runtime.send(inst, "confirm", channel="app").state == "paying"


def test_an_offer_without_journey_cannot_start_one(recommender: Recommender) -> None:
    traveller = {"id": "t1", "segments": ["traveller"], "five_g_device": True}
    rec = recommender.recommend(traveller, {"scenario": "travel", "region": "scenic-coast",
                                            "time": "2026-11-27T10:00:00"}).chosen[0]
    with pytest.raises(EventRejectedError, match="names no journey"):
        start_offer_journey(rec, JourneyRuntime(MemoryJourneyStore(), []), subscriber="t1")


SHIPPED = Path(__file__).resolve().parents[2] / "journeys" / "slice_pass_purchase.yaml"


def test_the_shipped_slice_pass_journey_runs_from_a_recommendation(
        recommender: Recommender) -> None:
    from telcoflow.journeys.definition import load_journey

    journey = load_journey(SHIPPED)
    assert journey.id == "slice-pass-purchase"
    charged: list[str] = []

    def charge_pass(*, context: object, payload: object, **_: object) -> None:
        charged.append(str(dict(context)["offer_id"]))  # type: ignore[call-overload]

    actions = {a: (lambda **_: None) for a in journey.actions}
    actions["charge_pass"] = charge_pass
    runtime = JourneyRuntime(MemoryJourneyStore(), [journey], actions=actions)
    rec = recommender.recommend(FAN, MATCH).chosen[0]
    inst = start_offer_journey(rec, runtime, subscriber="s1")
    assert inst.state == "browsing"
    steps = [("select_pass", {"pass_id": rec.offer, "venue": "stadium-north"}),
             ("coverage_confirmed", {}), ("payment_succeeded", {}), ("slice_provisioned", {})]
    states = [runtime.send(inst, trigger, payload, channel="app").state
              for trigger, payload in steps]
    assert states == ["coverage_check", "payment", "provisioning", "completed"]
    assert charged == ["stadium-pass-3h"]
