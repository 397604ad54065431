"""tillsynsrisk engine package."""
