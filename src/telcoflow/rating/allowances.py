"""Allowances (buckets): re-exported from :mod:`telcoflow.accounts`, their home."""

from __future__ import annotations

from telcoflow.accounts import Allowance, allowance_key

__all__ = ["Allowance", "allowance_key"]
