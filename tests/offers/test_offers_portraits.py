"""Customer portraits from usage aggregates."""

from __future__ import annotations

from decimal import Decimal

from offers_world import pack

from telcoflow.offers import PortraitBuilder, usage_aggregates


def test_aggregates_from_usage_records() -> None:
    records = [
        {"time": "2026-11-01T10:00:00", "volume_mb": 12000, "category": "video",
         "region": "capital"},
        {"time": "2026-11-02T10:00:00", "volume_mb": 9000, "category": "video",
         "zone": "roam-eu", "region": "paris"},
        {"time": "2026-11-02T18:00:00", "volume_mb": 500, "zone": "roam-eu"},
        {"time": "2026-11-03T10:00:00", "volume_mb": 2500, "category": "gaming",
         "seconds": 7200, "slice_class": "urllc", "region": "capital"},
    ]
    agg = usage_aggregates(records, lines=2, five_g_devices=1)
    # data 12000 + 9000 + 500 + 2500 = 24000 MB = 24 GB; video 21000 MB = 21 GB
    assert agg["data_gb"] == Decimal(24)
    assert agg["video_gb"] == Decimal(21)
    assert agg["roaming_days"] == 1      # both roaming records on 2 November
    assert agg["regions_visited"] == 2   # capital, paris
    assert agg["gaming_hours"] == Decimal(2)
    assert agg["urllc_sessions"] == 1
    portrait = PortraitBuilder(pack("portraits.rules.yaml")).portrait("s1", agg)
    # video 21 of 24 GB = 87.5 % >= 60 % and 21 >= 20 -> heavy video only
    assert portrait.segments == ("heavy-video",)
    assert portrait.primary == "heavy-video"
    assert portrait.reasons["heavy-video"] == "video is most of a large data volume"


def test_a_travelling_gamer_family() -> None:
    agg = {"data_gb": 10, "video_gb": 1, "roaming_days": 5, "regions_visited": 1,
           "gaming_hours": 12, "urllc_sessions": 0, "lines": 4, "five_g_devices": 2}
    portrait = PortraitBuilder(pack("portraits.rules.yaml")).portrait("s2", agg)
    assert portrait.segments == ("traveller", "gamer", "family")
    assert portrait.primary == "traveller"


def test_no_segment_is_standard() -> None:
    portrait = PortraitBuilder(pack("portraits.rules.yaml")).portrait(
        "s3", usage_aggregates([]))
    assert portrait.segments == ()
    assert portrait.primary == "standard"
