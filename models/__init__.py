"""tillsynsrisk models package."""
