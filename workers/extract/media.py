"""The media type of a raster asset, telling Cloud-Optimized GeoTIFFs apart."""

from __future__ import annotations

import warnings

from rasterio.io import DatasetReaderBase
from rio_stac.stac import get_media_type

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
GEOTIFF = "image/tiff; application=geotiff"


def is_cloud_optimized(ds: DatasetReaderBase) -> bool:
    """Whether a GeoTIFF can be read by ranges: tiled, with overviews unless the whole
    image fits in one tile (a reader then never needs a lower resolution)."""
    if ds.driver != "GTiff" or ds.count == 0 or not ds.profile.get("tiled", False):
        return False
    block_height, block_width = ds.block_shapes[0]
    fits_one_tile = ds.width <= block_width and ds.height <= block_height
    return fits_one_tile or bool(ds.overviews(1))


def media_type(ds: DatasetReaderBase) -> str | None:
    """The IANA media type of the dataset's file (None when no known type fits).

    A georeferenced GeoTIFF that :func:`is_cloud_optimized` gets the COG profile; other
    formats get rio-stac's mapping of GDAL drivers (JPEG 2000, HDF, PNG...).
    """
    if ds.driver == "GTiff":
        return COG if is_cloud_optimized(ds) else GEOTIFF
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rio-stac warns for drivers it does not map
        found = get_media_type(ds)
    return str(found.value) if found is not None else None
