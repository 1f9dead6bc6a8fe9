"""telcoflow.ops."""
