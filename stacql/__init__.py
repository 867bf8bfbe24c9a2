"""stacql package."""
