"""telcoflow.rating."""
