"""tillsynsrisk api package."""
