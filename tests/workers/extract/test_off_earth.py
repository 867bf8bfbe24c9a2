"""Rasters that look past the Earth (geostationary full disks): never refused, their
footprint is their valid pixels on the Earth. Checked against pyproj, pixel by pixel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from shapely.geometry import MultiPolygon

from tests.support.paths import RASTERS
from workers.errors import InvalidRaster
from workers.extract import build_item

WHEN = datetime(2024, 1, 1, tzinfo=UTC)
# A Himawari-like full disk: its visible Earth spans the antimeridian.
HIMAWARI = "+proj=geos +h=35785831 +lon_0=140.7 +sweep=y +ellps=WGS84 +units=m +no_defs"
DISK = 5_500_000.0  # half the side of the full-disk image, metres


def pixel_lonlat(ds: rasterio.io.DatasetReader) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude of every pixel centre (NaN past the limb), by pyproj."""
    rows, cols = np.mgrid[0 : ds.height, 0 : ds.width] + 0.5
    t = ds.transform
    to_lonlat = pyproj.Transformer.from_crs(
        pyproj.CRS.from_wkt(ds.crs.to_wkt()), 4326, always_xy=True
    )
    lon, lat = to_lonlat.transform(t.c + t.a * cols, t.f + t.e * rows, errcheck=False)
    lon, lat = np.asarray(lon), np.asarray(lat)
    off = ~(np.isfinite(lon) & np.isfinite(lat))
    lon[off], lat[off] = np.nan, np.nan
    return lon, lat


def away_from(mask: np.ndarray, distance: int) -> np.ndarray:
    """Pixels none of whose neighbours within ``distance`` (rows or columns) is in
    ``mask``."""
    near = mask.copy()
    padded = np.pad(mask, distance, constant_values=True)
    for dr in range(-distance, distance + 1):
        for dc in range(-distance, distance + 1):
            near |= padded[
                distance + dr : distance + dr + mask.shape[0],
                distance + dc : distance + dc + mask.shape[1],
            ]
    return ~near


def covered(geometry: dict, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    shape = shapely.geometry.shape(geometry).buffer(1e-7)
    shapely.prepare(shape)
    return shapely.covers(shape, shapely.points(lon, lat))


def check_footprint(path: Path) -> dict:
    """The item of a full-disk raster, after checking its footprint against every pixel:
    valid pixels on the Earth are covered (but those next to the limb or to invalid
    pixels, which the grid may cut through), invalid ones well away from valid data
    are not."""
    item = build_item(path, "disks", datetime=WHEN)
    with rasterio.open(path) as ds:
        lon, lat = pixel_lonlat(ds)
        valid = ds.dataset_mask() > 0
    off = np.isnan(lon)
    assert off.any() and not off.all()  # the test raster does look past the Earth
    inner = valid & ~off & away_from(off | ~valid, 1)
    assert covered(item["geometry"], lon[inner], lat[inner]).all()
    outside = ~valid & ~off & away_from(valid, 4)
    assert not covered(item["geometry"], lon[outside], lat[outside]).any()
    return item


def write_disk(path: Path, crs: str, size: int, blank_rows: int = 0) -> Path:
    """A full-disk uint16 image: 0 (nodata) past the limb and in the top
    ``blank_rows`` rows, smooth values elsewhere."""
    transform = from_origin(-DISK, DISK, 2 * DISK / size, 2 * DISK / size)
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint16",
        "crs": crs, "transform": transform, "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as ds:
        lon, _ = pixel_lonlat(ds)
        values = np.where(np.isnan(lon), 0, 100 + (np.arange(size) % 97)[None, :])
        values[:blank_rows] = 0
        ds.write(values.astype("uint16"), 1)
    return path


def test_the_goes_full_disk_is_an_item_of_its_visible_earth() -> None:
    item = check_footprint(RASTERS / "rasterio/goes.tif")
    west, south, east, north = item["bbox"]
    # GOES-East at 75°W sees about 81° of great circle around its sub-satellite point.
    assert (west, east) == (pytest.approx(-75 - 81.3, abs=0.5), pytest.approx(-75 + 81.3, abs=0.5))
    assert (south, north) == (pytest.approx(-81.3, abs=0.5), pytest.approx(81.3, abs=0.5))
    centroid = item["properties"]["proj:centroid"]
    assert centroid == pytest.approx({"lat": 0.0, "lon": -75.0}, abs=1e-3)


def test_a_full_disk_across_the_antimeridian_is_split_there(tmp_path: Path) -> None:
    item = check_footprint(write_disk(tmp_path / "himawari.tif", HIMAWARI, 300))
    assert isinstance(shapely.geometry.shape(item["geometry"]), MultiPolygon)
    assert item["bbox"][0] > item["bbox"][2]  # west > east: it crosses


def test_nodata_on_the_disk_is_left_out_of_the_footprint(tmp_path: Path) -> None:
    item = check_footprint(write_disk(tmp_path / "half.tif", HIMAWARI, 300, blank_rows=150))
    assert item["bbox"][3] < 1.0  # the northern half of the disk is blank


def test_a_raster_whose_valid_pixels_are_all_past_the_limb_is_refused(tmp_path: Path) -> None:
    path = write_disk(tmp_path / "sky.tif", HIMAWARI, 100)
    with rasterio.open(path, "r+") as ds:
        lon, _ = pixel_lonlat(ds)
        sky = away_from(~np.isnan(lon), 1)  # pixels not even touching the limb
        ds.write(np.where(sky, 7, 0).astype("uint16"), 1)  # 0 is nodata
    with pytest.raises(InvalidRaster, match="none of its valid pixels lies on the Earth"):
        build_item(path, "disks", datetime=WHEN)


def test_a_polar_view_past_the_limb_is_an_item_holding_the_pole(tmp_path: Path) -> None:
    # An orthographic view down on the North Pole: the image's corners lie past the limb.
    polar = "+proj=ortho +lat_0=90 +lon_0=0 +ellps=WGS84 +units=m +no_defs"
    item = check_footprint(write_disk(tmp_path / "arctic.tif", polar, 300))
    west, south, east, north = item["bbox"]
    assert (west, east, north) == (-180.0, 180.0, 90.0)
    with rasterio.open(tmp_path / "arctic.tif") as ds:
        _, lat = pixel_lonlat(ds)
    assert south == pytest.approx(np.nanmin(lat), abs=1.0)
    assert shapely.geometry.shape(item["geometry"]).covers(shapely.Point(0, 89.9))
