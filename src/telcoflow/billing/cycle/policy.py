"""The close policy: what belongs to the close only (bill cycle documents, payment terms,
dunning text), and the catalog it closes against.

Read from YAML (``kind: close-policy``) with every problem located at ``file:line:col``::

    kind: close-policy
    currency: EUR
    catalog: ../catalog/catalog.yaml   # plan fees, taxes, discounts: the catalog (relative
                                       # to this file; a list for a catalog in several files)
    payment_terms_days: 14
    dunning_text: "Please pay by the due date to keep your service."
    descriptions: {data: "Mobile data"}
    units: {data: MB}
    issuer:                            # on every bill (HTML statement, XML, TMF678 JSON)
      name: Example Telecom Ltd
      address: ["1 Network Way", "London EC1A 1AA"]
      vat_id: GB123456789
      payment: ["IBAN GB00 EXMP 0000 0000 0000 00", "Reference: your bill number"]
      contact: "billing@example.com"

Prices live in the catalog only: plan fees are the offerings' recurring prices (posted to
the ledger by :class:`~telcoflow.billing.recurring.RecurringFees`), tax is
:class:`~telcoflow.rating.tax.TaxRules` over the catalog's tax categories, discounts
are the catalog's. A policy that prices something (``plans``, ``taxes``, ``discounts``, ...)
is refused, each key located, saying where it belongs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from telcoflow.errors import MoneyError
from telcoflow.money import Currency, RoundingPolicy

# YAML reading (telcoflow.loading) is imported where a policy is read: a bill run's worker
# processes receive the policy already validated and need none of it.

__all__ = [
    "PRICING_KEYS",
    "ClosePolicy",
    "Issuer",
    "load_close_policy",
    "parse_close_policy",
    "validate_policy_files",
]

#: Keys an older close policy used to price things, and where each belongs now.
PRICING_KEYS: dict[str, str] = {
    "plans": "plan fees are the catalog offerings' recurring prices (`offerings[].prices`, "
             "price_type: recurring)",
    "taxes": "tax rates are the catalog's `tax_categories[].rates`",
    "tax_categories": "a charge's tax category is its catalog price's, tariff's or "
                      "offering's `tax_category` (else `tax_defaults.category`)",
    "discounts": "discounts are the catalog's `discounts`",
    "minimum_spend": "a minimum charge is the catalog tariff's `minimum_charge`",
    "fees": "fees are the catalog offerings' prices",
}


class Issuer(BaseModel):
    """Who issues the bills: printed on every statement (name and address at the top, tax id,
    payment details and contact at the foot), written in the XML bill (``<issuer>``) and the
    TMF678 bill (a ``relatedParty`` with role ``issuer``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1)]
    address: tuple[str, ...] = ()
    vat_id: str = ""
    payment: tuple[str, ...] = ()
    contact: str = ""


class ClosePolicy(BaseModel):
    """What the close decides itself (see the module docstring for YAML)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["close-policy"] = "close-policy"
    currency: str = "EUR"
    #: the catalog file(s) (absolute once loaded from a file: resolved against its folder)
    catalog: tuple[str, ...] = ()
    rounding: RoundingPolicy = RoundingPolicy.HALF_UP
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] = 14
    dunning_text: str = ""
    descriptions: dict[str, str] = Field(default_factory=dict)
    units: dict[str, str] = Field(default_factory=dict)
    issuer: Issuer | None = None
    plans: Any = None
    taxes: Any = None
    tax_categories: Any = None
    discounts: Any = None
    minimum_spend: Any = None
    fees: Any = None

    @field_validator("catalog", mode="before")
    @classmethod
    def _one_or_more(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator(*PRICING_KEYS, mode="before")
    @classmethod
    def _not_priced_here(cls, value: object, info: Any) -> None:
        if value is None:
            return
        raise ValueError(
            f"`{info.field_name}` prices things, which the close policy no longer does: "
            f"{PRICING_KEYS[info.field_name]}; the close policy keeps the bill cycle, "
            "documents, dunning text and payment terms, and names the `catalog`")

    @model_validator(mode="after")
    def _check(self) -> ClosePolicy:
        try:
            Currency.of(self.currency)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
        return self


def _resolved(policy: ClosePolicy, base: Path | None) -> ClosePolicy:
    if base is None or not policy.catalog:
        return policy
    paths = tuple(str((base / p).resolve()) if not Path(p).is_absolute() else p
                  for p in policy.catalog)
    return policy.model_copy(update={"catalog": paths})


def parse_close_policy(text: str, file: str = "<close-policy>",
                       base: str | Path | None = None) -> ClosePolicy:
    """Parse and validate a close policy from YAML text (``catalog`` paths relative to
    ``base``, default: as written)."""
    from telcoflow.loading.source import parse_yaml
    from telcoflow.loading.validate import validate_document

    policy = validate_document(parse_yaml(text, file), ClosePolicy)
    return _resolved(policy, Path(base) if base is not None else None)


def load_close_policy(path: str | Path) -> ClosePolicy:
    """Load and validate a close policy file; problems are located at file:line:col; its
    ``catalog`` paths are resolved against the file's folder."""
    from telcoflow.loading.source import load_document
    from telcoflow.loading.validate import validate_document

    policy = validate_document(load_document(path), ClosePolicy)
    return _resolved(policy, Path(path).parent)


def validate_policy_files(paths: Sequence[Path]) -> list[ClosePolicy]:
    """Validate close-policy files (the ``close-policy`` kind of ``telcoflow validate``);
    raise :class:`DefinitionError` with every problem of every file."""
    from telcoflow.loading.validate import load_each

    return load_each(paths, load_close_policy)
