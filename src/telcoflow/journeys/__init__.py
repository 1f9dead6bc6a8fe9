"""telcoflow.journeys."""
