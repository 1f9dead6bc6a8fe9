"""Public test helpers for code that embeds telcoflow (clocks, stores, rule-pack fixtures)."""

__all__: list[str] = []
