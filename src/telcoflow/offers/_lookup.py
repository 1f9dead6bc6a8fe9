"""Catalog lookups that fail with telcoflow's own runtime error, naming what needed them."""

from __future__ import annotations

from datetime import date

from telcoflow.catalog import Catalog, ProductOffering
from telcoflow.errors import RatingError

__all__ = ["offering"]


def offering(catalog: Catalog, offering_id: str, on: date | None = None, *,
             needed_by: str = "") -> ProductOffering:
    """``catalog.offering(offering_id, on)``, or :class:`RatingError` saying who asked."""
    try:
        return catalog.offering(offering_id, on=on)
    except KeyError as exc:
        who = f" ({needed_by})" if needed_by else ""
        raise RatingError(f"{exc.args[0]}{who}") from None
