"""The gate in front of raster uploads: only a georeferenced raster of bounded size passes.

The path handed to GDAL is always one of ours (the upload's temporary file), never a
string from the caller, so no ``/vsicurl/``, ``/vsizip/`` or local path can be smuggled
in; the file is opened with every GDAL driver but those that follow links to other
files (VRT and friends), which a hostile file could point at ``/etc/passwd``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader, DatasetReaderBase
from rasterio.windows import Window

from catalog.errors import InvalidInput

DEFAULT_MAX_PIXELS = 50_000 * 50_000
# Drivers whose files name other files or URLs: a VRT is XML that may point anywhere.
_LINKING_DRIVERS = frozenset({"VRT", "WMS", "WMTS", "WCS", "DAAS", "PLMosaic", "MRF"})


class InvalidRaster(InvalidInput):
    """An upload that is not a georeferenced raster stacql accepts."""

    code = "INVALID_RASTER"


def check_raster(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Refuse (``InvalidRaster``) anything but a georeferenced raster of at most
    ``max_pixels`` pixels per band: not a raster, a linking format, no CRS or transform,
    a size that would decompress into a bomb, or pixels that cannot be decoded."""
    # The linking drivers are left out of this open only. GDAL_SKIP would deregister them
    # for the whole process when its first GDAL environment is this one, and rasterio's
    # own reprojection (WarpedVRT, used by every tile of a reprojected raster) needs VRT.
    try:
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR") as env:
            drivers = sorted(set(env.drivers()) - _LINKING_DRIVERS)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                _check_dataset(path, drivers, max_pixels)
    except RasterioError as exc:
        # GDAL names the file by its path: the caller sees only the name it gave.
        reason = str(exc).replace(str(path), path.name)
        raise InvalidRaster(f"the file is not a raster GDAL can read: {reason}") from exc


def subdatasets_named(ds: DatasetReaderBase, shown: int = 10) -> str:
    """", only N subdatasets: 'name' (description), ..." for a container (HDF5, NetCDF),
    so the provider knows what to upload one by one; "" otherwise."""
    tags = ds.tags(ns="SUBDATASETS")
    found = []
    for i in range(1, len(ds.subdatasets) + 1):
        # The path part of GDAL's subdataset name is ours (a temporary file): keep the
        # variable after the last ':' only.
        name = tags.get(f"SUBDATASET_{i}_NAME", "").rsplit(":", 1)[-1]
        description = tags.get(f"SUBDATASET_{i}_DESC", "")
        found.append(f"{name!r} ({description})" if description else repr(name))
    if not found:
        return ""
    more = f", and {len(found) - shown} more" if len(found) > shown else ""
    return f", only {len(found)} subdatasets: {', '.join(found[:shown])}{more}"


def _check_dataset(path: Path, drivers: list[str], max_pixels: int) -> None:
    # rasterio.open takes one driver name; the reader itself takes a list.
    with DatasetReader(path, driver=drivers) as dataset:
        if dataset.count == 0:
            # A container (HDF5, NetCDF) says what it holds, not "no georeferencing".
            raise InvalidRaster(
                f"the file has no raster bands{subdatasets_named(dataset)}; upload each "
                "as a raster of its own (e.g. a GeoTIFF)"
            )
        if dataset.width * dataset.height > max_pixels:
            raise InvalidRaster(
                f"the raster has {dataset.width} x {dataset.height} pixels, more than the "
                f"limit of {max_pixels}"
            )
        gcps, gcp_crs = dataset.gcps
        georeferenced = (dataset.crs is not None and not dataset.transform.is_identity) or (
            bool(gcps) and gcp_crs is not None
        )
        if not georeferenced:
            raise InvalidRaster("the raster has no georeferencing (no CRS or transform)")
        # Decode full-resolution windows at the corners and the centre, and a decimated
        # view (overviews), so most truncated or corrupt files fail here rather than in
        # the worker (which still fails cleanly on the rest).
        for window in _sample_windows(dataset.width, dataset.height):
            dataset.read(window=window)
        dataset.read(1, out_shape=(min(dataset.height, 256), min(dataset.width, 256)))


def _sample_windows(width: int, height: int, size: int = 512) -> list[Window]:
    w, h = min(width, size), min(height, size)
    offsets = {(0, 0), (width - w, 0), (0, height - h), (width - w, height - h),
               ((width - w) // 2, (height - h) // 2)}
    return [Window(col, row, w, h) for col, row in sorted(offsets)]
