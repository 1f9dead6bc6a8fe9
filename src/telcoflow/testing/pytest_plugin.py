"""pytest plugin collecting telcoflow rule-pack test cases (placeholder while the engine lands)."""

from __future__ import annotations
