"""The full-resolution scan: decoding failures, empty rasters, max-pooling."""

from __future__ import annotations

from pathlib import Path

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


def _georeferenced_rasters() -> list[Path]:
    return sorted(p for p in RASTERS.rglob("*.tif") if "malformed" not in p.name
                  and p.name != "corrupt.tif")


@pytest.mark.parametrize("path", _georeferenced_rasters(), ids=lambda p: p.name)
def test_the_grid_matches_gdals_dataset_mask_on_every_shared_raster(path: Path) -> None:
    with rasterio.open(path) as ds:
        mask = ds.dataset_mask() > 0
        if not mask.any():
            pytest.skip("no valid pixel")
        grid = scan_valid(ds, max_size=64)
    assert grid.valid_pixels == int(np.count_nonzero(mask))
    f = grid.factor
    padded = np.zeros((-(-mask.shape[0] // f) * f, -(-mask.shape[1] // f) * f), dtype=bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    expected = padded.reshape(padded.shape[0] // f, f, -1, f).any(axis=(1, 3))
    assert np.array_equal(grid.cells, expected)
