"""Speckled valid areas whose overviews drop one-pixel islands: the blocks the reduced
read leaves uncertain are read again at full resolution, so the footprint covers every
valid pixel. Checked against the pixel positions of the array written here, placed on
the Earth with pyproj (not the code under test)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.transform import from_origin

from workers.extract import ExtractOptions, build_item
from workers.extract.item import FOOTPRINT_DECIMATION

SIZE = 4000  # not a multiple of the 512-pixel blocks: edge blocks are clipped
TRANSFORM = from_origin(500_000, 5_000_000, 10, 10)
WHEN = datetime(2021, 6, 1, tzinfo=UTC)


def _land_mask() -> np.ndarray:
    """40-pixel blobs every 300 pixels (a speckled outline the overviews show) and 400
    one-pixel islands (which their nearest-neighbour resampling drops), some in the
    last, clipped row and column of blocks."""
    valid = np.zeros((SIZE, SIZE), dtype=bool)
    for top in range(0, SIZE - 40, 300):
        for left in range(0, SIZE - 40, 300):
            valid[top : top + 40, left : left + 40] = True
    rng = np.random.default_rng(7)
    rows, cols = rng.integers(0, SIZE, 400), rng.integers(0, SIZE, 400)
    rows[:20], cols[20:40] = SIZE - 1 - rng.integers(0, 400, 20), SIZE - 1
    valid[rows, cols] = True
    return valid


def _write(path: Path, valid: np.ndarray, layout: str) -> None:
    """A tiled GeoTIFF with nearest overviews: one nodata band, two band-interleaved
    nodata bands, or RGBA (pixel-interleaved, validity in the alpha band)."""
    value = np.where(valid, 200, 0).astype("uint8")
    profile = {
        "driver": "GTiff",
        "width": SIZE,
        "height": SIZE,
        "dtype": "uint8",
        "crs": "EPSG:32631",
        "transform": TRANSFORM,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
    }
    if layout == "nodata":
        bands = value[np.newaxis]
        profile.update(count=1, nodata=0)
    elif layout == "band-interleaved":
        bands = np.stack([value, value // 2])
        profile.update(count=2, nodata=0, interleave="band")
    else:
        bands = np.stack([value, value, value, np.where(valid, 255, 0).astype("uint8")])
        profile.update(count=4, photometric="RGB", alpha="YES", interleave="pixel")
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(bands)
        ds.build_overviews([2, 4, 8], Resampling.nearest)


def _uncovered(item: dict, valid: np.ndarray) -> int:
    """Valid pixel centres (lon/lat through pyproj) outside the item's footprint."""
    rows, cols = np.nonzero(valid)
    xs = TRANSFORM.c + (cols + 0.5) * TRANSFORM.a
    ys = TRANSFORM.f + (rows + 0.5) * TRANSFORM.e
    lon, lat = pyproj.Transformer.from_crs(32631, 4326, always_xy=True).transform(xs, ys)
    footprint = shapely.geometry.shape(item["geometry"]).buffer(1e-9)
    return int(np.count_nonzero(~shapely.contains_xy(footprint, lon, lat)))


@pytest.mark.parametrize("layout", ["nodata", "band-interleaved", "alpha"])
def test_one_pixel_islands_dropped_by_the_overviews_are_in_the_footprint(
    tmp_path: Path, layout: str
) -> None:
    valid = _land_mask()
    path = tmp_path / f"{layout}.tif"
    _write(path, valid, layout)
    item = build_item(path, "rasters", datetime=WHEN)
    assert item["properties"][FOOTPRINT_DECIMATION] > 1  # traced on reduced cells
    assert _uncovered(item, valid) == 0
    # Without reading the uncertain blocks again, the overviews lose islands.
    coarse = build_item(path, "rasters", datetime=WHEN, options=ExtractOptions(refine_bytes=0))
    assert _uncovered(coarse, valid) > 0


def test_a_refinement_over_its_budget_keeps_the_reduced_footprint(tmp_path: Path) -> None:
    valid = _land_mask()
    path = tmp_path / "land.tif"
    _write(path, valid, "nodata")
    small = build_item(
        path, "rasters", datetime=WHEN, options=ExtractOptions(refine_bytes=512 * 512)
    )
    none = build_item(path, "rasters", datetime=WHEN, options=ExtractOptions(refine_bytes=0))
    assert small["geometry"] == none["geometry"]
