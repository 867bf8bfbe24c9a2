"""Map tiles, previews and mosaics of stored rasters (rio-tiler), free of HTTP."""

from catalog.tiles.mosaics import get_mosaic_search, register_mosaic_search
from catalog.tiles.render import (
    FORMATS,
    RasterSource,
    RenderOptions,
    TileNotAvailable,
    empty_tile,
    render_mosaic_tile,
    render_preview,
    render_tile,
    tile_matrix_set,
    zoom_range,
)
from catalog.tiles.sources import raster_source

__all__ = [
    "FORMATS",
    "RasterSource",
    "RenderOptions",
    "TileNotAvailable",
    "empty_tile",
    "get_mosaic_search",
    "raster_source",
    "register_mosaic_search",
    "render_mosaic_tile",
    "render_preview",
    "render_tile",
    "tile_matrix_set",
    "zoom_range",
]
