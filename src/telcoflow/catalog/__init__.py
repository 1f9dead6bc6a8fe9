"""telcoflow.catalog."""
