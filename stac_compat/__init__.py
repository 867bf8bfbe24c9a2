"""stac_compat package."""
