"""The upload gate (``catalog.rasters``) refuses linking formats without taking their
GDAL drivers away from the rest of the process."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import morecantile
import pytest
import rasterio

from catalog.rasters import InvalidRaster, check_raster
from catalog.tiles.render import RasterSource, RenderOptions, render_tile
from tests.support.paths import RASTERS, REPO

NAIP = RASTERS / "naip/m_3008501_ne_16_1_20110815.tif"  # UTM 16N: tiles are reprojected
# In a fresh process, the gate is the first GDAL environment (as in a server whose first
# request is an upload); then a tile of the same raster is rendered.
GATE_THEN_TILE = """
import hashlib, sys
from pathlib import Path
import morecantile
from catalog.rasters import check_raster
from catalog.tiles.render import RasterSource, RenderOptions, render_tile
check_raster(Path(sys.argv[1]))
tile = morecantile.tms.get("WebMercatorQuad").tile(-85.9, 30.97, 12)
png = render_tile(RasterSource(sys.argv[1]), morecantile.tms.get("WebMercatorQuad"),
                  tile.x, tile.y, tile.z, RenderOptions())
print(hashlib.sha256(png).hexdigest())
"""


def test_a_checked_upload_leaves_tiles_of_reprojected_rasters_readable() -> None:
    done = subprocess.run(
        [sys.executable, "-c", GATE_THEN_TILE, str(NAIP)], cwd=REPO, capture_output=True,
        text=True, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    tms = morecantile.tms.get("WebMercatorQuad")
    tile = tms.tile(-85.9, 30.97, 12)
    expected = render_tile(RasterSource(str(NAIP)), tms, tile.x, tile.y, tile.z, RenderOptions())
    assert done.stdout.strip() == hashlib.sha256(expected).hexdigest()


def test_an_uploaded_container_is_refused_naming_its_subdatasets() -> None:
    container = RASTERS / "rasterio/two-subs.h5"
    with rasterio.open(container) as ds:  # what GDAL itself lists
        expected = [name.rsplit(":", 1)[-1] for name in ds.subdatasets]
    with pytest.raises(InvalidRaster) as refused:
        check_raster(container)
    message = str(refused.value)
    assert "no raster bands, only 2 subdatasets" in message
    assert all(repr(name) in message for name in expected)
    assert str(container.parent) not in message  # no server path
