"""telcoflow.catalog: the product catalog as pydantic models (TMF620 names where one exists).

Models only: offerings and their prices, usage tariffs and price models, allowances, zones,
time bands, slice classes, benefits, discounts and taxes. YAML loading is in
:mod:`telcoflow.loading.catalog`; the math is in :mod:`telcoflow.rating`.
"""

from telcoflow.catalog.common import (
    Amount,
    CurrencyCode,
    IncrementSpec,
    Percent,
    Quantity,
    RoundingSpec,
    Validity,
)
from telcoflow.catalog.discounts import (
    Discount,
    DiscountScope,
    FixedDiscount,
    PercentageDiscount,
)
from telcoflow.catalog.model import Catalog, CatalogFile, CatalogIssue, reference_problems
from telcoflow.catalog.network import Holiday, Region, SliceClass, TimeBand, Zone
from telcoflow.catalog.offers import (
    Benefit,
    ExternalPrice,
    OneTimePrice,
    Partner,
    ProductOffering,
    ProductOfferingPrice,
    RecurringPrice,
    SlicePass,
    UsagePrice,
)
from telcoflow.catalog.prices import (
    CapacityPrice,
    CapacityTier,
    GraduatedPrice,
    PackagePrice,
    PercentagePrice,
    PerUnitPrice,
    PriceModel,
    Tier,
    VolumePrice,
)
from telcoflow.catalog.taxes import TaxCategory, TaxDefaults, TaxExemption, TaxRate
from telcoflow.catalog.usage import (
    Allowance,
    AllowanceValidity,
    ConnectFee,
    Rollover,
    TariffRate,
    UsageTariff,
)

__all__ = [
    "Allowance",
    "AllowanceValidity",
    "Amount",
    "Benefit",
    "CapacityPrice",
    "CapacityTier",
    "Catalog",
    "CatalogFile",
    "CatalogIssue",
    "ConnectFee",
    "CurrencyCode",
    "Discount",
    "DiscountScope",
    "ExternalPrice",
    "FixedDiscount",
    "GraduatedPrice",
    "Holiday",
    "IncrementSpec",
    "OneTimePrice",
    "PackagePrice",
    "Partner",
    "PerUnitPrice",
    "Percent",
    "PercentageDiscount",
    "PercentagePrice",
    "PriceModel",
    "ProductOffering",
    "ProductOfferingPrice",
    "Quantity",
    "RecurringPrice",
    "Region",
    "Rollover",
    "RoundingSpec",
    "SliceClass",
    "SlicePass",
    "TariffRate",
    "TaxCategory",
    "TaxDefaults",
    "TaxExemption",
    "TaxRate",
    "Tier",
    "TimeBand",
    "UsagePrice",
    "UsageTariff",
    "Validity",
    "VolumePrice",
    "Zone",
    "reference_problems",
]
