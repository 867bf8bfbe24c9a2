"""Georeferencing: geotransform, GCPs, RPCs, and what is refused."""

from __future__ import annotations

import pytest
import rasterio

from tests.support.paths import RASTERS
from workers.errors import InvalidRaster
from workers.extract.georef import georeference


def _kind(name: str) -> str:
    with rasterio.open(RASTERS / name) as ds:
        return georeference(ds).kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("rasterio/byte.tif", "transform"),
        ("rio-tiler/cog_gcps.tif", "gcps"),
        ("rasterio/RGB.byte.gcp.vrt", "gcps"),
        ("rasterio/RGB.byte.rpc.vrt", "rpcs"),
        # A geotransform wins over the RPCs the file also carries.
        ("rio-cogeo/dataset_namespace_metadata.tif", "transform"),
    ],
)
def test_the_georeferencing_kind_is_found(name: str, kind: str) -> None:
    assert _kind(name) == kind


def test_a_crs_of_another_planet_is_refused() -> None:
    with pytest.raises(InvalidRaster, match="'Equirectangular MARS' is not an Earth CRS"):
        _kind("rio-tiler/cog_hirise_mars.tif")


def test_a_pixel_grid_without_crs_is_refused_not_placed_on_the_world() -> None:
    with pytest.raises(InvalidRaster, match="not georeferenced"):
        _kind("rasterio/float.tif")


def test_polar_coordinates_are_read_in_gdal_axis_order() -> None:
    # EPSG:5482 has both axes pointing "north": GDAL and plain PROJ disagree on it.
    with rasterio.open(RASTERS / "libgeotiff/polar_stereographic_variant_a.tif") as ds:
        lon, lat = georeference(ds).to_lonlat([0.5], [0.5])
    assert (round(float(lon[0]), 2), round(float(lat[0]), 2)) == (65.87, -77.72)
