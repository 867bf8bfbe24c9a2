"""Tiles warped straight onto the tile grid (``catalog.tiles.warp``) hold exactly the
pixels and mask of rio-tiler's ``Reader.tile`` on the same file, at every zoom from well
below the raster's (its overviews) to above it."""

from __future__ import annotations

from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
from rio_tiler.io import Reader
from rio_tiler.models import ImageData

from catalog.tiles.render import RasterSource, RenderOptions, _read_tile
from catalog.tiles.warp import warp_tile
from tests.support.paths import RASTERS

WGS84 = rasterio.crs.CRS.from_epsg(4326)
# Reprojected rasters with a nodata value: UTM int16 with 4 overviews, a projected
# float32 with 3, float32 and float64 with NaN nodata, 4-band uint8 without overviews.
WARPED = [
    RASTERS / "rio-stac" / "dataset_int16_nodata.tif",
    RASTERS / "rio-stac" / "dataset_tiff_datetime.tif",
    RASTERS / "stactools" / "LC08_LST_crop.tif",
    RASTERS / "rio-stac" / "dataset_nodata_nan.tif",
    RASTERS / "naip" / "m_3610332_se_13_060_20200903-downsampled.tif",
]


def small_cog(path: Path) -> Path:
    """A 512-pixel RGB COG in lon/lat with one overview, like those of bench/mosaics.py:
    at zoom 8 it covers a corner of a tile."""
    data = np.random.default_rng(7).integers(1, 255, (3, 512, 512), dtype=np.uint8)
    profile = {
        "driver": "COG",
        "width": 512,
        "height": 512,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:4326",
        "nodata": 0,
        "compress": "deflate",
        "blocksize": 256,
        "transform": rasterio.transform.from_bounds(9.995, 49.995, 10.055, 50.055, 512, 512),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def sample_tiles(path: Path, tms: morecantile.TileMatrixSet) -> list[morecantile.Tile]:
    """Up to 4 tiles over the raster per zoom, from 5 zooms below its minimum zoom to 2
    above its maximum."""
    with Reader(str(path), tms=tms) as reader:
        bounds = reader.get_geographic_bounds(WGS84)
        zooms = range(max(0, reader.minzoom - 5), reader.maxzoom + 3)
    tiles = []
    for zoom in zooms:
        covering = list(tms.tiles(*bounds, zooms=[zoom]))
        tiles += covering[:: max(1, len(covering) // 4)]
    return tiles


def assert_same(ours: ImageData, theirs: ImageData) -> None:
    np.testing.assert_array_equal(ours.array.mask, theirs.array.mask)
    np.testing.assert_array_equal(ours.array.data, theirs.array.data)  # NaN equals NaN
    assert ours.array.dtype == theirs.array.dtype


def compare(path: Path, tms: morecantile.TileMatrixSet, size: int = 256) -> int:
    """Tiles compared (each one warped, none declined)."""
    compared = 0
    with rasterio.open(path) as dataset, Reader(str(path), dataset=dataset, tms=tms) as reader:
        indexes = tuple(range(1, dataset.count + 1))
        for tile in sample_tiles(path, tms):
            if not reader.tile_exists(tile.x, tile.y, tile.z):
                continue
            theirs = reader.tile(tile.x, tile.y, tile.z, tilesize=size, indexes=indexes)
            ours = warp_tile(dataset, tms, tile, size, indexes, None)
            assert ours is not None, f"declined {tile}"
            assert_same(ours, theirs)
            compared += 1
    return compared


@pytest.mark.parametrize("path", WARPED, ids=lambda path: path.name)
def test_warped_tiles_are_rio_tilers_pixels(path: Path) -> None:
    assert compare(path, morecantile.tms.get("WebMercatorQuad")) > 15


def test_a_small_cog_at_low_zooms(tmp_path: Path) -> None:
    assert compare(small_cog(tmp_path / "small.tif"), morecantile.tms.get("WebMercatorQuad")) > 15


@pytest.mark.parametrize("path", WARPED[:2], ids=lambda path: path.name)
def test_other_tile_matrix_sets_and_sizes(path: Path) -> None:
    assert compare(path, morecantile.tms.get("WGS1984Quad")) > 10
    assert compare(path, morecantile.tms.get("WebMercatorQuad"), size=512) > 10


def test_a_nodata_override_and_a_band_subset(tmp_path: Path) -> None:
    """``nodata`` given by the caller is used; a subset of the bands is left to
    rio-tiler (GDAL reads it otherwise); both render as rio-tiler does."""
    path = small_cog(tmp_path / "small.tif")
    tms = morecantile.tms.get("WebMercatorQuad")
    tile = tms.tile(10.02, 50.02, 9)
    with rasterio.open(path) as dataset, Reader(str(path), dataset=dataset, tms=tms) as reader:
        theirs = reader.tile(tile.x, tile.y, tile.z, indexes=(1, 2, 3), nodata=17)
        ours = warp_tile(dataset, tms, tile, 256, (1, 2, 3), 17)
        assert ours is not None
        assert_same(ours, theirs)
        assert warp_tile(dataset, tms, tile, 256, (1,), None) is None
    subset = _read_tile(
        RasterSource(str(path)), tms, tile.x, tile.y, tile.z, RenderOptions(bands=(2,))
    )
    with Reader(str(path), tms=tms) as reader:
        assert_same(subset, reader.tile(tile.x, tile.y, tile.z, indexes=(2,)))


@pytest.mark.parametrize(
    "path",
    [
        RASTERS / "rio-tiler" / "cog.tif",  # no nodata: rio-tiler masks with an alpha band
        RASTERS / "rio-tiler" / "cog_cmap.tif",  # already in Web Mercator: a window read
    ],
)
def test_other_rasters_are_left_to_rio_tiler(path: Path) -> None:
    tms = morecantile.tms.get("WebMercatorQuad")
    with rasterio.open(path) as dataset, Reader(str(path), dataset=dataset, tms=tms) as reader:
        west, south, east, north = reader.get_geographic_bounds(WGS84)
        tile = tms.tile((west + east) / 2, (south + north) / 2, reader.minzoom)
        indexes = tuple(range(1, dataset.count + 1))
        assert warp_tile(dataset, tms, tile, 256, indexes, None) is None
