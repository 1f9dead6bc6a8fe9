"""telcoflow.offers: 5G offers on top of the rule packs in ``rules/5g/``.

* :mod:`~telcoflow.offers.recommend`: next-best-offer (eligibility rules, tunable scoring,
  explanations); :mod:`~telcoflow.offers.config`: the tuning file.
* :mod:`~telcoflow.offers.triggers`: stateful offer triggers (stadium, traveller), at most
  once per window.
* :mod:`~telcoflow.offers.portraits`: usage aggregates and customer segments.
* :mod:`~telcoflow.offers.partners`: partner benefit lines and the per-partner report.
* :mod:`~telcoflow.offers.slicepass`: rating around a slice pass.
* :mod:`~telcoflow.offers.devices`: device-count charging with day-based proration.
* :mod:`~telcoflow.offers.graph`: the packs in the real-time graph (pass purchases, add-ons,
  devices, partner benefits as lifecycle events; the partner report from the store).
* :mod:`~telcoflow.offers.journeys`: start a journey from a recommendation.

See ``docs/5g-packs.md``.
"""

from telcoflow.offers.config import (
    OfferSpec,
    RecommendationConfig,
    load_recommendation_config,
    parse_recommendation_config,
)
from telcoflow.offers.devices import (
    Device,
    DeviceBill,
    DeviceCharge,
    device_charge,
    device_charges,
)
from telcoflow.offers.graph import PackCharges, held_add_ons, partner_report_of, with_5g_packs
from telcoflow.offers.partners import (
    BenefitHolding,
    BenefitLine,
    PartnerReport,
    PartnerTotals,
    benefit_lines,
    partner_report,
)
from telcoflow.offers.portraits import Portrait, PortraitBuilder, usage_aggregates
from telcoflow.offers.recommend import (
    Contribution,
    Exclusion,
    Recommendation,
    RecommendationResult,
    Recommender,
    period_of,
)
from telcoflow.offers.slicepass import HeldSlicePass, PassUsage, SlicePassBill, SlicePassRater
from telcoflow.offers.triggers import OfferTriggers, TriggeredOffer, VenueEvent

__all__ = [
    "BenefitHolding",
    "BenefitLine",
    "Contribution",
    "Device",
    "DeviceBill",
    "DeviceCharge",
    "Exclusion",
    "OfferSpec",
    "OfferTriggers",
    "PackCharges",
    "PartnerReport",
    "PartnerTotals",
    "PassUsage",
    "Portrait",
    "PortraitBuilder",
    "Recommendation",
    "RecommendationConfig",
    "RecommendationResult",
    "Recommender",
    "HeldSlicePass",
    "SlicePassBill",
    "SlicePassRater",
    "TriggeredOffer",
    "VenueEvent",
    "benefit_lines",
    "device_charge",
    "device_charges",
    "held_add_ons",
    "load_recommendation_config",
    "parse_recommendation_config",
    "partner_report",
    "partner_report_of",
    "period_of",
    "usage_aggregates",
    "with_5g_packs",
]
