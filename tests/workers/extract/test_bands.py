"""Raster and eo band fields."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from tests.support.paths import RASTERS
from workers.extract.bands import band_fields, eo_bands


def _bands(name: str, **kwargs) -> list[dict]:
    with rasterio.open(RASTERS / name) as ds:
        return band_fields(ds, **kwargs)


def test_statistics_of_a_small_raster_are_those_of_all_its_pixels() -> None:
    stats = _bands("rasterio/byte.tif")[0]["statistics"]
    with rasterio.open(RASTERS / "rasterio/byte.tif") as ds:
        data = ds.read(1).astype("float64")
    assert stats == pytest.approx({
        "minimum": data.min(), "maximum": data.max(), "mean": data.mean(),
        "stddev": data.std(), "valid_percent": 100.0,
    })


def test_nodata_pixels_are_left_out_of_the_statistics() -> None:
    band = _bands("rasterio/RGB.byte.tif")[0]
    with rasterio.open(RASTERS / "rasterio/RGB.byte.tif") as ds:
        data = ds.read(1, masked=True)
    assert band["nodata"] == 0
    assert band["statistics"]["minimum"] == data.min() > 0
    assert band["statistics"]["valid_percent"] == pytest.approx(100 * data.count() / data.size)


def test_a_nan_nodata_is_written_as_the_string_nan() -> None:
    band = _bands("stactools/LC08_LST_crop.tif")[0]
    assert band["nodata"] == "nan"
    assert np.isfinite(band["statistics"]["mean"])


def test_scale_and_offset_are_kept_per_band() -> None:
    bands = _bands("rio-tiler/cog_scale.tif")
    assert [(b["scale"], b["offset"]) for b in bands] == [(0.0001, 1000.0), (0.001, 2000.0)]


def test_a_large_float_nodata_stays_a_float() -> None:
    assert _bands("rasterio/float_raster_with_nodata.tif")[0]["nodata"] == pytest.approx(-3.4e38)


def test_the_spatial_resolution_is_in_metres_on_the_ground() -> None:
    assert _bands("rasterio/RGB.byte.tif")[0]["spatial_resolution"] == pytest.approx(300, rel=0.01)
    # 0.125 degree pixels at the equator: about 13.9 km.
    assert _bands("rasterio/world.byte.tif")[0]["spatial_resolution"] == pytest.approx(
        13_900, rel=0.01
    )


def test_band_descriptions_that_are_common_names_become_common_names() -> None:
    name = "rio-stac/S2A_MSIL2A_20220722T105631_N0400_R094_T31TCN_20220722T171159.tif"
    with rasterio.open(RASTERS / name) as ds:
        bands = eo_bands(ds)
    assert bands[1] == {"name": "blue", "common_name": "blue"}
    assert bands[12] == {"name": "aot"}


def test_colour_interpretation_gives_rgb_common_names() -> None:
    with rasterio.open(RASTERS / "rasterio/RGB.byte.tif") as ds:
        bands = eo_bands(ds)
    assert [b.get("common_name") for b in bands] == ["red", "green", "blue"]
