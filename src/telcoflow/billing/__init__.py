"""telcoflow.billing."""
