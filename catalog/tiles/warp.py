"""Reprojected tiles warped straight onto the tile's grid, pixel for pixel as rio-tiler.

rio-tiler reads a reprojected tile through a WarpedVRT spanning the whole tile at the
source's resolution and asks it for ``size`` x ``size`` pixels. GDAL answers that read by
choosing one of the VRT's implicit overviews (one per overview of the source), then
warping that overview's source level onto the requested grid. For a small source in a
low-zoom tile the VRT machinery costs ~0.1 s, while the warp itself takes milliseconds.

``warp_tile`` makes the same choices as that read (rio-tiler's VRT grid, GDAL's overview
rule, GDAL's rescaled geotransforms) and warps the chosen source level onto the tile
grid directly, so every tile pixel takes the same source pixel. It handles the common
case (a reprojected read of all bands of a raster with a nodata value, nearest
neighbour) and declines the others by returning None; callers then use rio-tiler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import ExitStack

import morecantile
import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.env import get_gdal_config
from rasterio.io import DatasetReader
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rio_tiler.models import ImageData
from rio_tiler.utils import get_vrt_transform, has_alpha_band

# GDAL's oversampling threshold for nearest-neighbour reads: an overview may be up to 1.2
# times coarser than the request (VRTWarpedRasterBand::GetBestOverviewLevel).
OVERSAMPLING_THRESHOLD = 1.2
# Config options that change how GDAL serves the VRT read: with any set, decline.
READ_OPTIONS = ("GDAL_OVERVIEW_OVERSAMPLING_THRESHOLD", "GDAL_VRT_WARP_USE_DATASET_RASTERIO")


def warp_tile(
    dataset: DatasetReader,
    tms: morecantile.TileMatrixSet,
    tile: morecantile.Tile,
    size: int,
    indexes: Sequence[int],
    nodata: float | None,
) -> ImageData | None:
    """Tile ``tile`` of ``dataset`` as rio-tiler's ``Reader.tile`` reads it (same pixels,
    same mask), or None where this shortcut does not apply."""
    dst_crs = tms.rasterio_crs
    nodata = nodata if nodata is not None else dataset.nodata
    if not _applies(dataset, dst_crs, indexes, nodata):
        return None
    assert nodata is not None  # checked by _applies; narrows the type
    bounds = tms.xy_bounds(tile)
    vrt_transform, width, height = get_vrt_transform(dataset, bounds, size, size, dst_crs=dst_crs)
    level, transform = _warp_grid(dataset, vrt_transform, width, height, size)
    with ExitStack() as stack:
        source = dataset
        if level >= 0:
            source = stack.enter_context(
                DatasetReader(dataset.name, driver=[dataset.driver], overview_level=level)
            )
            if source.shape != _overview_shape(dataset, level):
                return None  # overview sizes not as assumed: let rio-tiler decide
        # A whole read of a VRT of exactly the grid: GDAL warps it in one region, as
        # it does the rescaled VRT of rio-tiler's read (a warp split in chunks would
        # approximate the transformation over other spans).
        vrt = stack.enter_context(
            WarpedVRT(
                source,
                crs=dst_crs,
                transform=transform,
                width=size,
                height=size,
                nodata=nodata,
                src_nodata=nodata,
                add_alpha=False,
                dtype=dataset.dtypes[0],
                resampling=Resampling.nearest,
            )
        )
        data = vrt.read(indexes=list(indexes))
    mask = np.isnan(data) if math.isnan(nodata) else data == nodata
    return ImageData(
        np.ma.MaskedArray(data, mask=mask),
        bounds=tuple(bounds),
        crs=dst_crs,
        assets=[dataset.name],
        band_names=[f"b{index}" for index in indexes],
        band_descriptions=[dataset.descriptions[index - 1] or "" for index in indexes],
        metadata=dataset.tags(),
        nodata=nodata,
        scales=[dataset.scales[index - 1] for index in indexes],
        offsets=[dataset.offsets[index - 1] for index in indexes],
    )


def _applies(
    dataset: DatasetReader,
    dst_crs: rasterio.crs.CRS,
    indexes: Sequence[int],
    nodata: float | None,
) -> bool:
    # GDAL's VRT read takes this path only when all bands are read at once; without a
    # nodata value rio-tiler adds an alpha band; georeferencing by GCPs/RPCs warps
    # differently; a same-CRS tile is a plain window read, already fast.
    if nodata is None or dataset.crs is None or dataset.crs == dst_crs:
        return False
    if tuple(indexes) != tuple(range(1, dataset.count + 1)) or has_alpha_band(dataset):
        return False
    if len(set(dataset.dtypes)) != 1 or dataset.gcps[0] or dataset.rpcs:
        return False
    if any(get_gdal_config(name) is not None for name in READ_OPTIONS):
        return False
    dtype = np.dtype(dataset.dtypes[0])
    if math.isnan(nodata):
        return dtype.kind == "f"
    with np.errstate(all="ignore"):
        return bool(np.array(nodata).astype(dtype) == nodata)


def _overview_shape(dataset: DatasetReader, level: int) -> tuple[int, int]:
    # GDAL sizes overviews by ceiling division (gdaladdo, the COG driver).
    factor = dataset.overviews(1)[level]
    return -(-dataset.height // factor), -(-dataset.width // factor)


def _warp_grid(
    dataset: DatasetReader, vrt_transform: Affine, width: int, height: int, size: int
) -> tuple[int, Affine]:
    """The source overview level GDAL warps from (-1: full resolution) and the
    geotransform of the ``size`` x ``size`` grid it warps onto, computed as GDAL does."""
    gt = list(vrt_transform.to_gdal())
    level, grid_width, grid_height = -1, width, height
    if size < width or size < height:
        desired = min(width / size, height / size)
        best = 0.0
        for index, _ in enumerate(dataset.overviews(1)):
            ratio = dataset.width / _overview_shape(dataset, index)[1]
            ovr_width, ovr_height = int(width / ratio + 0.5), int(height / ratio + 0.5)
            if ovr_width < 1 or ovr_height < 1:
                break
            factor = min(width / ovr_width, height / ovr_height)
            if factor >= desired * OVERSAMPLING_THRESHOLD or factor <= best:
                continue
            level, grid_width, grid_height, best = index, ovr_width, ovr_height, factor
        if level >= 0:
            _rescale(gt, width, grid_width, height, grid_height)
    if (grid_width, grid_height) != (size, size):
        _rescale(gt, grid_width, size, grid_height, size)
    return level, Affine.from_gdal(*gt)


def _rescale(gt: list[float], width: int, new_width: int, height: int, new_height: int) -> None:
    # GDAL's RescaleDstGeoTransform, with its order of floating-point operations.
    gt[1] *= width / new_width
    gt[2] *= width / new_width
    gt[4] *= height / new_height
    gt[5] *= height / new_height
