"""Media types, and telling a Cloud-Optimized GeoTIFF from a plain one."""

from __future__ import annotations

import pytest
import rasterio

from tests.support.paths import RASTERS
from workers.extract.media import COG, GEOTIFF, media_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rio-tiler/cog.tif", COG),
        ("rio-tiler/nocog.tif", GEOTIFF),  # same pixels, striped, no overviews
        ("rasterio/shade.tif", GEOTIFF),  # tiled but no overviews
        ("rio-tiler/cog_uint8_rgba.tif", COG),
        ("stactools/S2A_OPER_MSI_L2A_TL_ATOS_20220620T162319_A036527_T32TLS_N04.00_R60m_B01.jp2",
         "image/jp2"),
    ],
)
def test_the_media_type_is_found(name: str, expected: str) -> None:
    with rasterio.open(RASTERS / name) as ds:
        assert media_type(ds) == expected
