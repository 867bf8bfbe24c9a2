"""Thumbnails: small RGBA PNGs from overviews."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile

from tests.support.paths import RASTERS
from workers.extract.thumbnail import encode_png, render_thumbnail


def _png(name: str, size: int = 256) -> tuple[tuple[int, int, int], list[int]]:
    with rasterio.open(RASTERS / name) as ds:
        data = render_thumbnail(ds, size)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with MemoryFile(data) as memory, memory.open() as png:
        alpha = png.read(png.count)
        return (png.count, png.height, png.width), [int(alpha.min()), int(alpha.max())]


pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def test_an_rgb_raster_gives_an_rgba_thumbnail_with_nodata_transparent() -> None:
    shape, alpha = _png("rasterio/RGB.byte.tif")
    assert shape == (4, 232, 256)
    assert alpha == [0, 255]


def test_a_single_band_raster_gives_a_grey_and_alpha_thumbnail() -> None:
    shape, _ = _png("rio-tiler/cog.tif", 128)
    assert shape == (2, 128, 128)


def test_a_paletted_raster_is_rendered_through_its_palette() -> None:
    shape, _ = _png("rio-tiler/cog_cmap.tif", 64)
    assert shape[0] == 4


@pytest.mark.parametrize("bands", [2, 4])
def test_encoded_pngs_decode_to_their_pixels_in_gdal(bands: int) -> None:
    # Random values: every Sub-filtered byte wraps around 256 somewhere.
    image = np.random.default_rng(bands).integers(0, 256, (bands, 37, 53), dtype=np.uint8)
    with MemoryFile(encode_png(image)) as memory, memory.open() as png:
        assert (png.driver, png.count) == ("PNG", bands)
        assert np.array_equal(png.read(), image)
