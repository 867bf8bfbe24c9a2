"""Projection extension fields: authority codes, WKT2 fallback, RPC rasters."""

from __future__ import annotations

import pyproj
import rasterio

from tests.support.paths import RASTERS
from workers.extract.projection import projection_fields


def _fields(name: str) -> dict:
    with rasterio.open(RASTERS / name) as ds:
        return projection_fields(ds)


def test_an_epsg_crs_is_given_by_its_code() -> None:
    fields = _fields("rasterio/RGB.byte.tif")
    assert fields["proj:code"] == "EPSG:32618"
    assert fields["proj:bbox"] == [101985.0, 2611485.0, 339315.0, 2826915.0]
    assert "proj:wkt2" not in fields


def test_an_esri_crs_is_given_by_its_esri_code() -> None:
    assert _fields("rasterio/test_esri_wkt.tif")["proj:code"] == "ESRI:102039"


def test_a_crs_without_a_code_is_given_as_wkt2_and_projjson() -> None:
    fields = _fields("rio-tiler/cog_scale.tif")
    assert fields["proj:code"] is None
    assert pyproj.CRS.from_wkt(fields["proj:wkt2"]).is_projected
    assert fields["proj:projjson"]["type"] == "ProjectedCRS"


def test_a_south_up_raster_has_an_ordered_native_bbox() -> None:
    west, south, east, north = _fields("cogeotiff-js/model_transformation.tif")["proj:bbox"]
    assert west < east and south < north


def test_a_raster_with_only_rpcs_has_no_native_crs() -> None:
    fields = _fields("rasterio/RGB.byte.rpc.vrt")
    assert fields["proj:code"] is None
    assert "proj:transform" not in fields and "proj:bbox" not in fields
    assert fields["proj:shape"] == [718, 791]


def test_the_centroid_is_in_lonlat() -> None:
    centroid = _fields("rio-tiler/cog.tif")["proj:centroid"]
    assert -61.3 < centroid["lon"] < -52.3 and 72.2 < centroid["lat"] < 74.7
