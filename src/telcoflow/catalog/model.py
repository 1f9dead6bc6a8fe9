"""The catalog: top-level model, per-file model, lookups and cross-reference checks.

* :class:`CatalogFile`: one YAML file (``kind: catalog``); every section optional, so a
  catalog can span several files (see :func:`telcoflow.loading.catalog.load_catalog`).
* :class:`Catalog`: the whole, merged catalog (``currency`` required) with fast lookups
  (``catalog.tariff("data-home")``, ``catalog.offering("postpaid-50", on=day)``, ...).
* :func:`reference_problems`: every dangling reference, duplicate id and overlapping offering
  version, as :class:`CatalogIssue` located by path (not first-only).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any, Literal, TypeVar

from pydantic import ValidationInfo, model_validator

from telcoflow.catalog.common import CurrencyCode, Frozen, Id
from telcoflow.catalog.discounts import Discount
from telcoflow.catalog.money_fields import minor_unit_problems
from telcoflow.catalog.network import Holiday, Region, SliceClass, TimeBand, Zone
from telcoflow.catalog.offers import (
    Benefit,
    ExternalPrice,
    Partner,
    ProductOffering,
    UsagePrice,
)
from telcoflow.catalog.taxes import TaxCategory, TaxDefaults, TaxExemption
from telcoflow.catalog.usage import Allowance, UsageTariff
from telcoflow.errors import NotFoundError
from telcoflow.money import Currency

__all__ = [
    "Catalog",
    "CatalogFile",
    "CatalogIssue",
    "SECTIONS",
    "SKIP_REFERENCE_CHECKS",
    "reference_problems",
]

#: Validation-context key: set it to skip the cross-reference check of :class:`Catalog`
#: (the loader runs the check itself, to locate each problem in its file).
SKIP_REFERENCE_CHECKS = "telcoflow.catalog.skip_reference_checks"

#: The list sections of a catalog (merged by concatenation across files).
SECTIONS: tuple[str, ...] = (
    "partners", "zones", "bands", "holidays", "slice_classes", "regions", "tax_categories",
    "tax_exemptions", "tariffs", "allowances", "benefits", "offerings", "discounts",
)

T = TypeVar("T")
PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class CatalogIssue:
    """A cross-reference problem at ``path`` (relative to the catalog root).

    ``related`` points at the other place involved (the first definition of a duplicate id,
    the overlapping version); the message does not include it, so that a loader can show it as
    ``file:line:col``.
    """

    path: PathKey
    message: str
    code: str
    related: PathKey | None = None


class _CatalogBody(Frozen):
    kind: Literal["catalog"] = "catalog"
    id: Id | None = None
    name: str = ""
    version: str | None = None
    tax_defaults: TaxDefaults | None = None
    partners: tuple[Partner, ...] = ()
    zones: tuple[Zone, ...] = ()
    bands: tuple[TimeBand, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    slice_classes: tuple[SliceClass, ...] = ()
    regions: tuple[Region, ...] = ()
    tax_categories: tuple[TaxCategory, ...] = ()
    tax_exemptions: tuple[TaxExemption, ...] = ()
    tariffs: tuple[UsageTariff, ...] = ()
    allowances: tuple[Allowance, ...] = ()
    benefits: tuple[Benefit, ...] = ()
    offerings: tuple[ProductOffering, ...] = ()
    discounts: tuple[Discount, ...] = ()


class CatalogFile(_CatalogBody):
    """One catalog YAML file: ``kind: catalog`` and any sections (merged with other files)."""

    kind: Literal["catalog"]
    currency: CurrencyCode | None = None


def _index(items: Iterable[T], key: str) -> dict[str, T]:
    out: dict[str, T] = {}
    for item in items:
        out.setdefault(getattr(item, key), item)
    return out


class Catalog(_CatalogBody):
    """A whole product catalog.

    ``currency`` is the default currency of every amount that does not name its own.
    Validating a :class:`Catalog` also checks cross-references (all problems at once).
    """

    currency: CurrencyCode

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Catalog:
        if info.context and info.context.get(SKIP_REFERENCE_CHECKS):
            return self
        issues = reference_problems(self)
        if issues:
            raise ValueError(
                f"{len(issues)} reference problem(s): "
                + "; ".join(
                    f"{_json_path(i.path)}: {i.message}"
                    + (f" (see {_json_path(i.related)})" if i.related else "")
                    + f" [{i.code}]"
                    for i in issues
                )
            )
        return self

    # -- lookups ---------------------------------------------------------------------
    @cached_property
    def default_currency(self) -> Currency:
        """The catalog's default :class:`~telcoflow.money.Currency`."""
        return Currency.of(self.currency)

    def currency_of(self, item: Any) -> Currency:
        """The currency of a priced item: its own ``currency`` or the catalog's."""
        code = getattr(item, "currency", None)
        return Currency.of(code) if code else self.default_currency

    @cached_property
    def tariffs_by_id(self) -> Mapping[str, UsageTariff]:
        """Tariffs by id."""
        return _index(self.tariffs, "id")

    @cached_property
    def allowances_by_id(self) -> Mapping[str, Allowance]:
        """Allowances by id."""
        return _index(self.allowances, "id")

    @cached_property
    def benefits_by_id(self) -> Mapping[str, Benefit]:
        """Benefits by id."""
        return _index(self.benefits, "id")

    @cached_property
    def zones_by_id(self) -> Mapping[str, Zone]:
        """Zones by id."""
        return _index(self.zones, "id")

    @cached_property
    def discounts_by_id(self) -> Mapping[str, Discount]:
        """Discounts by id."""
        return _index(self.discounts, "id")

    @cached_property
    def tax_categories_by_id(self) -> Mapping[str, TaxCategory]:
        """Tax categories by id."""
        return _index(self.tax_categories, "id")

    @cached_property
    def tax_exemptions_by_id(self) -> Mapping[str, TaxExemption]:
        """Tax exemptions by id."""
        return _index(self.tax_exemptions, "id")

    @cached_property
    def slice_classes_by_id(self) -> Mapping[str, SliceClass]:
        """Slice classes by id."""
        return _index(self.slice_classes, "id")

    @cached_property
    def offering_versions(self) -> Mapping[str, tuple[ProductOffering, ...]]:
        """Every version of each offering id, highest version first."""
        grouped: dict[str, list[ProductOffering]] = {}
        for o in self.offerings:
            grouped.setdefault(o.id, []).append(o)
        return {k: tuple(sorted(v, key=lambda o: -o.version)) for k, v in grouped.items()}

    @cached_property
    def _holiday_dates(self) -> frozenset[date]:
        return frozenset(h.date for h in self.holidays)

    def _get(self, table: Mapping[str, T], what: str, key: str) -> T:
        try:
            return table[key]
        except KeyError:
            raise NotFoundError(
                f"unknown {what} {key!r} in catalog {self.id or ''}".rstrip()) from None

    def tariff(self, tariff_id: str) -> UsageTariff:
        """The tariff ``tariff_id``; an unknown id raises
        :class:`~telcoflow.errors.NotFoundError` (a ``KeyError``) naming it."""
        return self._get(self.tariffs_by_id, "tariff", tariff_id)

    def allowance(self, allowance_id: str) -> Allowance:
        """The allowance ``allowance_id``."""
        return self._get(self.allowances_by_id, "allowance", allowance_id)

    def benefit(self, benefit_id: str) -> Benefit:
        """The benefit ``benefit_id``."""
        return self._get(self.benefits_by_id, "benefit", benefit_id)

    def discount(self, discount_id: str) -> Discount:
        """The discount ``discount_id``."""
        return self._get(self.discounts_by_id, "discount", discount_id)

    def tax_category(self, category_id: str) -> TaxCategory:
        """The tax category ``category_id``."""
        return self._get(self.tax_categories_by_id, "tax category", category_id)

    def offering(self, offering_id: str, on: date | None = None) -> ProductOffering:
        """The offering ``offering_id``: the highest version valid ``on`` that day
        (the highest version at all when ``on`` is not given)."""
        versions = self._get(self.offering_versions, "offering", offering_id)
        if on is None:
            return versions[0]
        for o in versions:
            if o.is_valid_on(on):
                return o
        raise NotFoundError(f"offering {offering_id!r} has no version valid on {on}")

    def discount_for_coupon(self, code: str) -> Discount | None:
        """The discount a coupon code unlocks, if any."""
        for d in self.discounts:
            if d.coupon_code == code:
                return d
        return None

    def zone_for_country(self, country: str) -> Zone | None:
        """The first zone listing ``country``, else the first ``*`` zone, else ``None``."""
        wildcard: Zone | None = None
        for zone in self.zones:
            if country in zone.countries:
                return zone
            if wildcard is None and "*" in zone.countries:
                wildcard = zone
        return wildcard

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a listed holiday."""
        return day in self._holiday_dates

    def band_at(self, moment: datetime) -> str | None:
        """The id of the first time band matching ``moment`` (local time), or ``None``."""
        holiday = moment.date() in self._holiday_dates
        for band in self.bands:
            if band.matches(moment, holiday=holiday):
                return band.id
        return None


# -- cross-reference checks --------------------------------------------------------------


def _json_path(path: PathKey) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _duplicates(
    section: str, items: Sequence[Any], key: Any = None
) -> Iterator[CatalogIssue]:
    first: dict[Any, int] = {}
    for i, item in enumerate(items):
        k = key(item) if key else item.id
        if k in first:
            shown = f"{k[0]!r} version {k[1]}" if isinstance(k, tuple) else repr(k)
            yield CatalogIssue(
                (section, i, "id"),
                f"duplicate id {shown} in {section}",
                "E-catalog-duplicate-id",
                (section, first[k]),
            )
        else:
            first[k] = i


_NONE: tuple[CatalogIssue, ...] = ()


def _refs(
    path: PathKey, field: str, values: Sequence[str], known: Mapping[str, Any] | set[str],
    what: str,
) -> Sequence[CatalogIssue]:
    # plain function, not a generator: most lists are empty or all known (hot in big catalogs)
    if not values:
        return _NONE
    return [
        CatalogIssue((*path, field, j), _unknown(what, value, known), "E-catalog-unknown-ref")
        for j, value in enumerate(values)
        if value not in known
    ]


def _ref(
    path: PathKey, field: str, value: str | None, known: Mapping[str, Any] | set[str], what: str
) -> Sequence[CatalogIssue]:
    if value is None or value in known:
        return _NONE
    return [CatalogIssue((*path, field), _unknown(what, value, known), "E-catalog-unknown-ref")]


def _unknown(what: str, value: str, known: Mapping[str, Any] | set[str]) -> str:
    names = sorted(known)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"unknown {what} {value!r} (expected one of: {shown or 'none defined'})"


def _overlap(a: ProductOffering, b: ProductOffering) -> bool:
    a_from, a_to = a.valid_from or date.min, a.valid_to or date.max
    b_from, b_to = b.valid_from or date.min, b.valid_to or date.max
    return a_from <= b_to and b_from <= a_to


def reference_problems(catalog: _CatalogBody) -> list[CatalogIssue]:
    """Every cross-reference problem of ``catalog`` (duplicate ids, unknown references,
    overlapping offering versions), each located by its path. Linear in the catalog size."""
    issues: list[CatalogIssue] = []
    for section in SECTIONS:
        if section in ("holidays", "offerings"):
            continue
        issues.extend(_duplicates(section, getattr(catalog, section)))
    issues.extend(_duplicates("offerings", catalog.offerings, lambda o: (o.id, o.version)))
    issues.extend(_duplicates("holidays", catalog.holidays, lambda h: h.date))

    partners = {p.id for p in catalog.partners}
    zones = {z.id for z in catalog.zones}
    bands = {b.id for b in catalog.bands}
    slices = {s.id for s in catalog.slice_classes}
    regions = {r.id for r in catalog.regions}
    taxes = {t.id for t in catalog.tax_categories}
    tariffs = {t.id for t in catalog.tariffs}
    allowances = {a.id for a in catalog.allowances}
    benefits = {b.id for b in catalog.benefits}
    offerings = {o.id for o in catalog.offerings}

    if catalog.tax_defaults is not None:
        issues.extend(_ref(("tax_defaults",), "category", catalog.tax_defaults.category, taxes,
                           "tax category"))
    for i, ex in enumerate(catalog.tax_exemptions):
        issues.extend(_refs(("tax_exemptions", i), "categories", ex.categories, taxes,
                            "tax category"))
    for i, t in enumerate(catalog.tariffs):
        p: PathKey = ("tariffs", i)
        issues.extend(_ref(p, "tax_category", t.tax_category, taxes, "tax category"))
        for j, rate in enumerate(t.rates):
            rp: PathKey = (*p, "rates", j)
            issues.extend(_refs(rp, "zones", rate.zones, zones, "zone"))
            issues.extend(_refs(rp, "bands", rate.bands, bands, "time band"))
            issues.extend(_refs(rp, "slice_classes", rate.slice_classes, slices, "slice class"))
            issues.extend(_refs(rp, "regions", rate.regions, regions, "region"))
    for i, a in enumerate(catalog.allowances):
        p = ("allowances", i)
        issues.extend(_refs(p, "tariffs", a.tariffs, tariffs, "tariff"))
        issues.extend(_refs(p, "zones", a.zones, zones, "zone"))
    for i, b in enumerate(catalog.benefits):
        p = ("benefits", i)
        issues.extend(_ref(p, "partner", b.partner, partners, "partner"))
        issues.extend(_ref(p, "tax_category", b.tax_category, taxes, "tax category"))
    versions: dict[str, list[int]] = {}
    add = issues.extend
    for i, o in enumerate(catalog.offerings):
        versions.setdefault(o.id, []).append(i)
        # hot loop (10,000s of offerings): test first, build paths only for a problem
        if o.tax_category is not None and o.tax_category not in taxes:
            add(_ref(("offerings", i), "tax_category", o.tax_category, taxes, "tax category"))
        if o.allowances and not allowances.issuperset(o.allowances):
            add(_refs(("offerings", i), "allowances", o.allowances, allowances, "allowance"))
        if o.benefits and not benefits.issuperset(o.benefits):
            add(_refs(("offerings", i), "benefits", o.benefits, benefits, "benefit"))
        if o.regions and not regions.issuperset(o.regions):
            add(_refs(("offerings", i), "regions", o.regions, regions, "region"))
        if o.slice_pass is not None:
            sp: PathKey = ("offerings", i, "slice_pass")
            add(_ref(sp, "slice_class", o.slice_pass.slice_class, slices, "slice class"))
            add(_refs(sp, "regions", o.slice_pass.regions, regions, "region"))
        for j, price in enumerate(o.prices):
            if price.tax_category is not None and price.tax_category not in taxes:
                add(_ref(("offerings", i, "prices", j), "tax_category", price.tax_category,
                         taxes, "tax category"))
            if isinstance(price, UsagePrice):
                if price.tariff not in tariffs:
                    add(_ref(("offerings", i, "prices", j), "tariff", price.tariff, tariffs,
                             "tariff"))
            elif isinstance(price, ExternalPrice) and price.partner not in partners:
                add(_ref(("offerings", i, "prices", j), "partner", price.partner, partners,
                         "partner"))
    for ids in versions.values():
        if len(ids) < 2:
            continue
        for x, i in enumerate(ids):
            for k in ids[x + 1:]:
                first, later = catalog.offerings[i], catalog.offerings[k]
                if first.version != later.version and _overlap(first, later):
                    issues.append(CatalogIssue(
                        ("offerings", k, "valid_from"),
                        f"version {later.version} of offering {later.id!r} overlaps version "
                        f"{first.version} in validity dates",
                        "E-catalog-version-overlap", ("offerings", i)))
    for i, d in enumerate(catalog.discounts):
        p = ("discounts", i)
        issues.extend(_refs((*p, "applies_to"), "offerings", d.applies_to.offerings, offerings,
                            "offering"))
        issues.extend(_refs((*p, "applies_to"), "tax_categories", d.applies_to.tax_categories,
                            taxes, "tax category"))
        issues.extend(_refs(p, "requires_offerings", d.requires_offerings, offerings, "offering"))
    currency = getattr(catalog, "currency", None)  # a whole Catalog has one; a file may not
    if isinstance(currency, str) and currency:
        issues.extend(CatalogIssue(path, message, "E-money-minor-units")
                      for path, message in minor_unit_problems(catalog, Currency.of(currency)))
    return issues
