"""tillsynsrisk features package."""
