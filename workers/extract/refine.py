"""Where a decimated read cannot be trusted for the footprint: validity at full resolution.

Overviews are made by resampling kernels that either drop valid pixels smaller than
their own pixel (nearest, mode: the islands of a world land mask vanish) or spill past
the data's edge (bilinear, cubic, some averages: a thin glacier strip grows by one
overview pixel on each side). Either way the error lives next to the outline of the
valid area, so its size is bounded by how much of the valid area lies on the outline.
A finer overview is made by the same kernel, so only full resolution is the truth.

When the outline cells of the grid traced from the sample are more than
:data:`REFINE_OUTLINE_SHARE` of its valid cells (a thin strip, a speckled mask) and the
raster's decoded bands fit ``budget`` bytes, its validity alone is read again at full
resolution and max-pooled onto the same cells: that grid is the full scan's. A compact
footprint (a scene, a rotated rectangle, a disk) is never read twice, nor is a raster
too large for the budget (its footprint stays the overviews').
"""

from __future__ import annotations

import numpy as np
from rasterio.io import DatasetReaderBase

from workers.extract.dtypes import numpy_dtype
from workers.extract.sample import Sample, read_validity
from workers.extract.scan import (
    DEFAULT_GRID_SIZE,
    ValidGrid,
    grid_from_sample,
    pool_onto,
    sampled_grid_geometry,
)

REFINE_OUTLINE_SHARE = 0.05
"""Share of valid cells on the outline above which the validity is read again, finer."""
DEFAULT_REFINE_BYTES = 24 * 1024 * 1024
"""Default budget, in decoded bytes of all bands, of that full-resolution read: about
5 megapixels of float32, a few tens of milliseconds."""


def outline_share(cells: np.ndarray) -> float:
    """Valid cells with an invalid 4-neighbour, over valid cells (0 when none is
    valid); the grid's own edges are not an outline (the raster ends there)."""
    count = int(np.count_nonzero(cells))
    if not count:
        return 0.0
    padded = np.pad(cells, 1, constant_values=True)
    inner = (
        padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    )
    return int(np.count_nonzero(cells & ~inner)) / count


def fits_at_full_resolution(ds: DatasetReaderBase, budget: int) -> bool:
    """Whether all bands of ``ds`` decoded at full resolution fit ``budget`` bytes."""
    pixel_bytes = sum(numpy_dtype(d).itemsize for d in ds.dtypes) or 1
    return ds.width * ds.height * pixel_bytes <= budget


def reduced_grid(
    ds: DatasetReaderBase, sample: Sample, grid_size: int = DEFAULT_GRID_SIZE,
    budget: int = DEFAULT_REFINE_BYTES,
) -> ValidGrid:
    """The validity grid of ``ds`` from its ``sample``, read again finer (see the
    module) when its outline is a large share of it and the budget allows."""
    grid = grid_from_sample(sample.valid, ds.width, ds.height, grid_size)
    decimation = sample.decimation(ds.width)
    if decimation <= 1 or outline_share(grid.cells) <= REFINE_OUTLINE_SHARE:
        return grid
    if not fits_at_full_resolution(ds, budget):
        return grid
    valid = read_validity(ds, (ds.height, ds.width))
    geometry = sampled_grid_geometry(ds.width, ds.height, sample.shape, grid_size)
    cells = np.zeros(geometry.shape, dtype=bool)
    pool_onto(cells, valid, (1.0, 1.0), geometry)
    if not cells.any():
        return grid
    return ValidGrid(cells, grid.factor, int(np.count_nonzero(valid)), geometry.cell)
