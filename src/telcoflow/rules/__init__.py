"""telcoflow.rules."""
