"""telcoflow.loading."""
