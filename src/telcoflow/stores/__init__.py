"""telcoflow.stores."""
