"""STAC API 1.0 face of the catalog, on stac-fastapi."""

from stac_compat.app import create_stac_api
from stac_compat.client import CatalogClient

__all__ = ["CatalogClient", "create_stac_api"]
