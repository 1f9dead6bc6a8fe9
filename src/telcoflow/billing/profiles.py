"""Customer profiles: re-exported from :mod:`telcoflow.accounts`, their home."""

from __future__ import annotations

from telcoflow.accounts import (
    AccountProfile,
    DictProfiles,
    DiscountRule,
    ProfileCache,
    SplitPolicy,
    SubscriberProfile,
)

__all__ = [
    "AccountProfile",
    "DictProfiles",
    "DiscountRule",
    "ProfileCache",
    "SplitPolicy",
    "SubscriberProfile",
]
