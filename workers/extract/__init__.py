"""Raster → STAC metadata, in the rio-stac shape: small functions that take an open
dataset (or a path) and return dicts, and one that opens the file and builds the item."""

from workers.extract.acquired import acquisition_datetime
from workers.extract.bands import band_fields, eo_bands
from workers.extract.files import file_fields
from workers.extract.footprint import footprint
from workers.extract.georef import Georeference, georeference
from workers.extract.item import (
    SAFE_DRIVERS,
    Extraction,
    ExtractOptions,
    build_item,
    extract,
    item_id_from_name,
)
from workers.extract.media import media_type
from workers.extract.projection import projection_fields
from workers.extract.provider import ProviderMetadata
from workers.extract.scan import ValidGrid, scan_valid
from workers.extract.thumbnail import render_thumbnail

__all__ = [
    "SAFE_DRIVERS",
    "ExtractOptions",
    "Extraction",
    "Georeference",
    "ProviderMetadata",
    "ValidGrid",
    "acquisition_datetime",
    "band_fields",
    "build_item",
    "eo_bands",
    "extract",
    "file_fields",
    "footprint",
    "georeference",
    "item_id_from_name",
    "media_type",
    "projection_fields",
    "render_thumbnail",
    "scan_valid",
]
