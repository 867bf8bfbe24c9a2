"""Speckled valid areas whose overviews drop one-pixel islands: the blocks the reduced
read leaves uncertain are read again at full resolution, so the footprint covers every
valid pixel. Checked against the pixel positions of the array written here, placed on
the Earth with pyproj (not the code under test)."""

from __future__ import annotations

import contextlib
import math
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.env import get_gdal_config, set_gdal_config
from rasterio.transform import from_origin

from workers.extract import ExtractOptions, build_item
from workers.extract.item import FOOTPRINT_DECIMATION
from workers.extract.refine import _Blocks, refined_cells, small_block_cache, uncertain_blocks
from workers.extract.scan import GridGeometry, sampled_grid_geometry

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


def _cells_of(valid: np.ndarray, shape: tuple[int, int], cell: tuple[float, float]) -> np.ndarray:
    """Max-pool of ``valid`` onto cells of ``cell`` (width, height) pixels, each pixel in
    the cell its centre is in: the reference, one pixel at a time."""
    cells = np.zeros(shape, dtype=bool)
    rows, cols = np.nonzero(valid)
    cell_rows = np.minimum(((rows + 0.5) / cell[1]).astype(int), shape[0] - 1)
    cell_cols = np.minimum(((cols + 0.5) / cell[0]).astype(int), shape[1] - 1)
    cells[cell_rows, cell_cols] = True
    return cells


# (numpy type, nodata, bands): zero and other nodata values, signed and wider types (a
# GeoTIFF has one nodata value for all its bands).
TYPES = [
    ("uint8", 0, 1),
    ("uint8", 255, 3),
    ("int16", -9999, 2),
    ("uint16", 65535, 1),
    ("int32", -1, 3),
]


@pytest.mark.parametrize(("dtype", "nodata", "count"), TYPES)
@pytest.mark.parametrize("interleave", ["band", "pixel"])
def test_blocks_read_again_give_the_cells_of_every_pixel(
    tmp_path: Path, dtype: str, nodata: int, count: int, interleave: str
) -> None:
    """Every block read again (no cell is sure): the cells are those of every valid pixel,
    through blocks of repeated content (all nodata, all valid), clipped edge blocks and
    runs of blocks of their own content."""
    height, width = 1500, 2300  # clipped last row and column of blocks
    rng = np.random.default_rng(11)
    values = np.full((count, height, width), nodata, dtype=dtype)
    values[:, :256, 1024:2048] = nodata ^ 2  # blocks of one repeated valid content
    for left in range(0, 2048, 256):  # a repeated block, partly valid, in each cell
        values[-1, 256:512, left : left + 256][np.eye(256, dtype=bool)] = nodata ^ 3
    speckle = rng.random((height, width)) < 0.0004
    speckle[:512] = False  # the blocks above are repeated as they are
    band = rng.integers(0, count, (height, width))
    for b in range(count):  # a pixel valid through one band only, the others nodata
        values[b][speckle & (band == b)] = nodata ^ 1
    valid = np.any(values != nodata, axis=0)
    path = tmp_path / "blocks.tif"
    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": count, "dtype": dtype,
        "crs": "EPSG:32631", "transform": TRANSFORM, "tiled": True, "blockxsize": 256,
        "blockysize": 256, "compress": "deflate", "interleave": interleave, "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(values)
    with rasterio.open(path) as ds:
        geometry = sampled_grid_geometry(width, height, (157, 241))  # cells of ~9.5 px
        cells = refined_cells(ds, np.zeros(geometry.shape, dtype=bool), geometry, 1 << 30)
    assert cells is not None
    expected = _cells_of(valid, geometry.shape, geometry.cell)
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(cells, expected)


def test_a_right_and_a_bottom_edge_block_of_the_same_bytes_are_both_read(tmp_path: Path) -> None:
    """Clipped edge blocks are stored padded: a right one and a bottom one can hold the
    same bytes; neither is the top-left part of the other, so each is read."""
    height, width = 600, 600  # edge blocks of 256 x 88 and 88 x 256 pixels
    values = np.zeros((1, height, width), dtype="uint8")
    for top in range(0, 512, 256):
        values[0, top, 512] = 9  # the right edge blocks: a pixel at their top-left
    for left in range(0, 512, 256):
        values[0, 512, left] = 9  # the bottom ones, the same pixel
    path = tmp_path / "edges.tif"
    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "uint8",
        "crs": "EPSG:32631", "transform": TRANSFORM, "tiled": True, "blockxsize": 256,
        "blockysize": 256, "compress": "deflate", "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(values)
    with rasterio.open(path) as ds:
        geometry = sampled_grid_geometry(width, height, (60, 60))  # cells of 10 px
        cells = refined_cells(ds, np.zeros(geometry.shape, dtype=bool), geometry, 1 << 30)
    assert cells is not None
    np.testing.assert_array_equal(cells, _cells_of(values[0] > 0, geometry.shape, geometry.cell))


def _blocks_of_pixels(
    uncertain: np.ndarray, geometry: GridGeometry, block: tuple[int, int], size: tuple[int, int]
) -> np.ndarray:
    """The reference of :func:`uncertain_blocks`, pixel by pixel: blocks holding a pixel
    of an uncertain cell, a cell's pixels running from ``floor(i * cell)`` to
    ``ceil((i + 1) * cell) - 1`` on each axis (clipped to the raster)."""
    height, width = size
    hits = np.zeros((math.ceil(height / block[0]), math.ceil(width / block[1])), dtype=bool)
    for row, col in zip(*np.nonzero(uncertain), strict=True):
        top = math.floor(row * geometry.cell[1])
        bottom = min(math.ceil((row + 1) * geometry.cell[1]) - 1, height - 1)
        left = math.floor(col * geometry.cell[0])
        right = min(math.ceil((col + 1) * geometry.cell[0]) - 1, width - 1)
        rows = slice(top // block[0], bottom // block[0] + 1)
        hits[rows, left // block[1] : right // block[1] + 1] = True
    return hits


@pytest.mark.parametrize("seed", range(6))
def test_the_blocks_of_uncertain_cells_are_those_of_their_pixels(seed: int) -> None:
    """Cells of fractional sizes against blocks of other sizes, clipped at the edges."""
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(300, 5000)), int(rng.integers(300, 5000))
    sample = (int(rng.integers(20, min(height, 900))), int(rng.integers(20, min(width, 900))))
    geometry = sampled_grid_geometry(width, height, sample, int(rng.integers(16, 300)))
    block = (int(rng.choice([64, 256, 512])), int(rng.choice([64, 256, 512])))
    counts = (math.ceil(height / block[0]), math.ceil(width / block[1]))
    uncertain = rng.random(geometry.shape) < 0.01
    found = uncertain_blocks(uncertain, geometry, _Blocks(*block, *counts))
    expected = _blocks_of_pixels(uncertain, geometry, block, (height, width))
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(found, expected)


@pytest.mark.parametrize("enclosing", [None, {}, {"GDAL_CACHEMAX": 123 * 1024 * 1024}])
def test_a_refinement_gives_gdal_s_block_cache_back_as_it_found_it(
    tmp_path: Path, enclosing: dict | None
) -> None:
    """Blocks are decoded under a small GDAL cache, and GDAL's cache has its size again
    afterwards, whatever encloses the refinement: no ``rasterio.Env``, one that sets
    other options, one that sets the cache. (Restoring by leaving a nested Env left the
    cache small under an Env that did not set it.)"""
    valid = _land_mask()
    path = tmp_path / "land.tif"
    _write(path, valid, "nodata")
    geometry = sampled_grid_geometry(SIZE, SIZE, (400, 400))
    env = rasterio.Env(**enclosing) if enclosing is not None else contextlib.nullcontext()
    process_wide = get_gdal_config("GDAL_CACHEMAX")
    set_gdal_config("GDAL_CACHEMAX", 77 * 1024 * 1024)  # what GDAL has before (not 4 MB)
    try:
        with env, rasterio.open(path) as ds:
            before = get_gdal_config("GDAL_CACHEMAX")
            cells = refined_cells(ds, np.zeros(geometry.shape, dtype=bool), geometry, 1 << 30)
            assert get_gdal_config("GDAL_CACHEMAX") == before
        assert get_gdal_config("GDAL_CACHEMAX") == 77 * 1024 * 1024
    finally:
        set_gdal_config("GDAL_CACHEMAX", process_wide)
    assert cells is not None
    np.testing.assert_array_equal(cells, _cells_of(valid, geometry.shape, geometry.cell))


def test_threads_share_one_small_block_cache_until_the_last_leaves() -> None:
    """Two refinements at once: GDAL's one cache holds two blocks of the larger one's
    while both run, keeps that size when the first leaves and is given back after the
    last."""
    inside = threading.Barrier(3)
    leaving = [threading.Event(), threading.Event()]
    seen: list[int] = []

    def refine(block_bytes: int, leave: threading.Event) -> None:
        with small_block_cache(block_bytes):
            inside.wait(timeout=10)
            seen.append(get_gdal_config("GDAL_CACHEMAX"))
            leave.wait(timeout=10)

    with rasterio.Env(GDAL_CACHEMAX=200 * 1024 * 1024):
        threads = [
            threading.Thread(target=refine, args=(1024, leaving[0])),
            threading.Thread(target=refine, args=(3 * 1024 * 1024, leaving[1])),
        ]
        for thread in threads:
            thread.start()
        inside.wait(timeout=10)
        leaving[0].set()
        threads[0].join()
        assert get_gdal_config("GDAL_CACHEMAX") == 6 * 1024 * 1024
        leaving[1].set()
        threads[1].join()
        assert get_gdal_config("GDAL_CACHEMAX") == 200 * 1024 * 1024
    assert seen == [6 * 1024 * 1024] * 2
