"""The full-resolution scan: decoding failures, empty rasters, max-pooling."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from tests.support.paths import RASTERS
from workers.errors import InvalidRaster, UnreadableRaster
from workers.extract.scan import grid_factor, scan_valid


def test_pixels_that_fail_to_decode_at_full_resolution_are_unreadable() -> None:
    # corrupt.tif reads fine from its overviews: only a full-resolution read fails.
    with rasterio.open(RASTERS / "rasterio/corrupt.tif") as ds:
        ds.read(1, out_shape=(256, 256))
        with pytest.raises(UnreadableRaster, match="reading its pixels failed"):
            scan_valid(ds)


def test_a_raster_of_nodata_only_is_invalid() -> None:
    with rasterio.open(RASTERS / "rasterio/all-nodata.tif") as ds, pytest.raises(
        InvalidRaster, match="no valid pixel"
    ):
        scan_valid(ds)


def test_the_grid_counts_valid_pixels_at_full_resolution() -> None:
    with rasterio.open(RASTERS / "rasterio/RGB.byte.tif") as ds:
        grid = scan_valid(ds, max_size=100)
        expected = int(np.count_nonzero(ds.dataset_mask()))
    assert grid.valid_pixels == expected
    assert grid.factor == 8 and grid.cells.shape == (90, 99)


def test_a_grid_cell_is_valid_when_any_pixel_under_it_is() -> None:
    with rasterio.open(RASTERS / "rasterio/RGB.byte.tif") as ds:
        grid = scan_valid(ds, max_size=100)
        mask = ds.dataset_mask() > 0
    padded = np.zeros((90 * 8, 99 * 8), dtype=bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    pooled = padded.reshape(90, 8, 99, 8).any(axis=(1, 3))
    assert (grid.cells == pooled).all()


def test_the_grid_factor_keeps_the_longer_side_within_the_size() -> None:
    assert grid_factor(36000, 18000, 512) == 71
    assert grid_factor(10, 10, 512) == 1
