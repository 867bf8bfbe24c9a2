"""``build_item`` on every file of ``shared/data/rasters``, checked against independent
computations made here with rasterio and pyproj."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from rasterio.enums import MaskFlags
from rasterio.transform import GCPTransformer, RPCTransformer
from rasterio.warp import transform, transform_bounds
from rasterio.windows import Window

from catalog.geometry import bbox_polygon
from catalog.stac import normalize_items
from tests.support.paths import RASTERS
from workers.errors import InvalidRaster, UnreadableRaster
from workers.extract import ExtractOptions, build_item
from workers.extract.accuracy import footprint_error
from workers.extract.item import FOOTPRINT_DECIMATION, STATISTICS_DECIMATION

WHEN = datetime(2021, 6, 1, 12, 0, tzinfo=UTC)

# Every file that cannot become an item, with the error and a part of its reason.
BROKEN: dict[str, tuple[type[Exception], str]] = {
    "cogeotiff-js/sparse.tiff": (InvalidRaster, "no valid pixel"),
    "image-tiff/malformed_open_error.tif": (UnreadableRaster, "GDAL cannot open it"),
    "image-tiff/malformed_read_error.tif": (InvalidRaster, "not georeferenced"),
    "rasterio/389225main_sw_1965_1024.jpg": (InvalidRaster, "not georeferenced"),
    "rasterio/RGB.byte.tif.aux.xml": (UnreadableRaster, "not recognized"),
    "rasterio/all-nodata.tif": (InvalidRaster, "no valid pixel"),
    "rasterio/corrupt.tif": (UnreadableRaster, "truncated or corrupt: block 1,1 of band 1"),
    "rasterio/float.tif": (InvalidRaster, "not georeferenced"),
    "rasterio/float_nan.tif": (InvalidRaster, "not georeferenced"),
    "rasterio/rotated.tif": (InvalidRaster, "not georeferenced"),
    "rasterio/two-subs.h5": (
        InvalidRaster, r"no raster bands, only 2 subdatasets: '//data' \(\[3x3\] //data .*'//data2'"
    ),
    "rio-cogeo/dataset_namespace_metadata.xml": (UnreadableRaster, "not recognized"),
    "rio-stac/dataset.tif": (InvalidRaster, "not georeferenced"),
    "rio-stac/dataset_geom.tif": (InvalidRaster, "no valid pixel"),
    "rio-stac/dataset_tiff_datetime.tif": (InvalidRaster, "no valid pixel"),
    "rio-tiler/cog_hirise_mars.tif": (InvalidRaster, "not an Earth CRS"),
    "rio-tiler/inverted_lat.tif": (InvalidRaster, "no valid pixel"),
}
ALL = sorted(str(p.relative_to(RASTERS)) for p in RASTERS.rglob("*") if p.is_file())
GOOD = [name for name in ALL if name not in BROKEN]
# Rasters that look past the Earth: their outline has no longitude or latitude, so the
# references below do not apply; test_off_earth.py checks them pixel by pixel.
OFF_EARTH = {"rasterio/goes.tif"}
ON_EARTH = [name for name in GOOD if name not in OFF_EARTH]


@cache
def item_of(name: str) -> dict[str, Any]:
    return build_item(RASTERS / name, "rasters", datetime=WHEN)


@cache
def full_scan_item_of(name: str) -> dict[str, Any]:
    """The item with its footprint from every pixel (the reference for accuracy)."""
    options = ExtractOptions(full_scan=True)
    return build_item(RASTERS / name, "rasters", datetime=WHEN, options=options)


def data_asset(item: dict[str, Any]) -> dict[str, Any]:
    return item["assets"]["data"]


def pixel_to_lonlat(ds: Any, cols: np.ndarray, rows: np.ndarray) -> tuple[Any, Any]:
    """Longitude/latitude of pixel positions, computed without the code under test."""
    gcps, gcp_crs = ds.gcps
    if ds.crs is not None and not ds.transform.is_identity:
        t = ds.transform
        xs, ys = t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
        return transform(ds.crs, "EPSG:4326", xs, ys)
    if gcps:
        ys, xs = GCPTransformer(gcps).xy(rows, cols, offset="ul")[::-1]
        return transform(gcp_crs, "EPSG:4326", xs, ys)
    return RPCTransformer(ds.rpcs).xy(rows, cols, offset="ul")


def reference_bounds(ds: Any) -> list[float]:
    """The raster's outline in EPSG:4326 with densified edges (201 points per edge:
    sparser sampling misses the bulge of curved edges, e.g. a UTM edge at 74°N)."""
    if ds.crs is not None and not ds.transform.is_identity:
        return list(transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=201))
    steps = np.linspace(0, 1, 201)
    w, h = ds.width, ds.height
    cols = np.concatenate([steps * w, np.full(201, w), steps * w, np.zeros(201)])
    rows = np.concatenate([np.zeros(201), steps * h, np.full(201, h), steps * h])
    lon, lat = pixel_to_lonlat(ds, cols, rows)
    return [min(lon), min(lat), max(lon), max(lat)]


def within(inner: list[float], outer: list[float], tolerance: float) -> bool:
    """Whether bbox ``inner`` lies inside ``outer`` (either may cross the antimeridian)."""
    def spans(b: list[float]) -> tuple[float, float]:
        west, east = b[0], b[2] if b[2] >= b[0] else b[2] + 360.0
        return west, east
    (iw, ie), (ow, oe) = spans(inner), spans(outer)
    if iw < ow - tolerance:
        iw, ie = iw + 360.0, ie + 360.0
    lons = ow - tolerance <= iw and ie <= oe + tolerance
    return lons and outer[1] - tolerance <= inner[1] and inner[3] <= outer[3] + tolerance


def valid_pixel_centres(ds: Any, limit: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Column/row centres of up to ``limit`` valid pixels among every ``step``-th row
    and column, read at full resolution (a decimated read would use overviews, whose
    pixels need not match any full-resolution one)."""
    step = max(1, int(np.ceil(max(ds.width, ds.height) / 1024)))
    found_rows, found_cols = [], []
    for row in range(0, ds.height, step):
        mask = ds.dataset_mask(window=Window(0, row, ds.width, 1))[0, ::step] > 0
        cols = np.nonzero(mask)[0] * step
        found_cols.append(cols)
        found_rows.append(np.full(len(cols), row))
    rows, cols = np.concatenate(found_rows), np.concatenate(found_cols)
    pick = np.random.default_rng(0).permutation(len(rows))[:limit]
    return cols[pick] + 0.5, rows[pick] + 0.5


def test_every_shared_raster_is_classified() -> None:
    assert set(BROKEN) <= set(ALL)
    assert len(GOOD) >= 30


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_raster_fails_with_the_right_error(name: str) -> None:
    error, reason = BROKEN[name]
    with pytest.raises(error, match=reason) as raised:
        build_item(RASTERS / name, "rasters", datetime=WHEN)
    assert str(raised.value).startswith(name.split("/")[-1] + ": ")


@pytest.mark.parametrize("name", ON_EARTH)
def test_the_bbox_lies_within_the_densified_bounds_of_the_raster(name: str) -> None:
    with rasterio.open(RASTERS / name) as ds:
        reference = reference_bounds(ds)
    assert within(item_of(name)["bbox"], reference, tolerance=1e-6)


def _fully_valid(name: str) -> bool:
    with rasterio.open(RASTERS / name) as ds:
        return all(flags == [MaskFlags.all_valid] for flags in ds.mask_flag_enums)


@pytest.mark.parametrize("name", [name for name in ON_EARTH if _fully_valid(name)])
def test_a_fully_valid_raster_has_the_bbox_of_its_outline(name: str) -> None:
    with rasterio.open(RASTERS / name) as ds:
        reference = reference_bounds(ds)
    span = max(abs(reference[2] - reference[0]) % 360 or 360, reference[3] - reference[1])
    assert within(reference, item_of(name)["bbox"], tolerance=1e-3 * span)


@pytest.mark.parametrize("name", GOOD)
def test_the_footprint_is_valid_and_inside_the_bbox(name: str) -> None:
    item = item_of(name)
    geometry = shapely.geometry.shape(item["geometry"])
    assert geometry.is_valid, shapely.is_valid_reason(geometry)
    assert bbox_polygon(item["bbox"]).buffer(1e-9).covers(geometry)


def _uncovered(item: dict[str, Any], name: str) -> np.ndarray:
    """Valid pixel centres (a sample of up to 4000) outside the item's footprint."""
    geometry = shapely.geometry.shape(item["geometry"]).buffer(1e-7)
    with rasterio.open(RASTERS / name) as ds:
        cols, rows = valid_pixel_centres(ds)
        lon, lat = pixel_to_lonlat(ds, cols, rows)
    lon = (np.asarray(lon) + 180.0) % 360.0 - 180.0
    return lon[~shapely.covers(geometry, shapely.points(lon, lat))]


@pytest.mark.parametrize("name", ON_EARTH)
def test_the_full_scan_footprint_covers_every_valid_pixel(name: str) -> None:
    outside = _uncovered(full_scan_item_of(name), name)
    assert not outside.size, f"{outside.size} valid pixels outside, e.g. {outside[:3]}"


@pytest.mark.parametrize("name", ON_EARTH)
def test_a_footprint_read_at_full_resolution_covers_every_valid_pixel(name: str) -> None:
    item = item_of(name)
    if item["properties"][STATISTICS_DECIMATION] != 1:
        pytest.skip("read at reduced resolution: see the accuracy test")
    outside = _uncovered(item, name)
    assert not outside.size, f"{outside.size} valid pixels outside, e.g. {outside[:3]}"


@pytest.mark.parametrize("name", GOOD)
def test_the_reduced_resolution_footprint_is_within_1_percent_of_the_full_scan(
    name: str,
) -> None:
    with rasterio.open(RASTERS / name) as ds:
        error, cell = footprint_error(ds)
    assert error <= 0.01
    assert cell == pytest.approx(item_of(name)["properties"][FOOTPRINT_DECIMATION], abs=1e-4)


@pytest.mark.parametrize("name", GOOD)
def test_the_projection_fields_match_the_file(name: str) -> None:
    props = item_of(name)["properties"]
    with rasterio.open(RASTERS / name) as ds:
        affine = ds.crs is not None and not ds.transform.is_identity
        crs = ds.crs if affine else ds.gcps[1]
        assert props["proj:shape"] == [ds.height, ds.width]
        assert props.get("proj:transform") == (list(ds.transform) if affine else None)
        if crs is None:  # georeferenced by RPCs only
            assert props["proj:code"] is None
            return
        authority = pyproj.CRS.from_wkt(crs.to_wkt()).to_authority(min_confidence=70)
    if authority is None:
        assert props["proj:code"] is None
        assert pyproj.CRS.from_wkt(props["proj:wkt2"]) == pyproj.CRS.from_json_dict(
            props["proj:projjson"]
        )
    else:
        assert props["proj:code"] == ":".join(authority)


@pytest.mark.parametrize("name", GOOD)
def test_the_bands_match_the_file(name: str) -> None:
    asset = data_asset(item_of(name))
    with rasterio.open(RASTERS / name) as ds:
        dtypes, count = list(ds.dtypes), ds.count
    assert [b["data_type"] for b in asset["raster:bands"]] == dtypes
    assert len(asset["eo:bands"]) == count


@pytest.mark.parametrize("name", GOOD)
def test_the_file_fields_match_the_bytes(name: str) -> None:
    data = (RASTERS / name).read_bytes()
    asset = data_asset(item_of(name))
    assert asset["file:size"] == len(data)
    assert asset["file:checksum"] == "1220" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name", GOOD)
def test_the_item_is_accepted_by_the_catalog(name: str) -> None:
    item = item_of(name)
    record = normalize_items([item])[0]
    assert (record.collection_id, record.id) == ("rasters", item["id"])


def test_the_item_id_comes_from_the_file_name() -> None:
    assert item_of("rio-tiler/cog_dateline.tif")["id"] == "cog_dateline"


def test_an_item_id_given_wins_over_the_file_name() -> None:
    item = build_item(RASTERS / "rasterio/byte.tif", "rasters", "mine", WHEN)
    assert item["id"] == "mine"


def test_the_same_file_gives_the_same_item() -> None:
    first = build_item(RASTERS / "rasterio/RGB.byte.tif", "rasters", datetime=WHEN)
    assert first == build_item(RASTERS / "rasterio/RGB.byte.tif", "rasters", datetime=WHEN)


def test_a_raster_over_the_pixel_limit_is_refused_before_it_is_read(tmp_path) -> None:
    # 100,000 x 100,000 pixels in a few KB: a sparse tiled GeoTIFF, as a hostile upload.
    huge = tmp_path / "huge.tif"
    profile = {"driver": "GTiff", "width": 100_000, "height": 100_000, "count": 1,
               "dtype": "uint8", "crs": "EPSG:4326", "tiled": True, "sparse_ok": True,
               "transform": rasterio.transform.from_origin(0, 1, 1e-5, 1e-5)}
    with rasterio.open(huge, "w", **profile):
        pass
    assert huge.stat().st_size < 10_000_000
    with pytest.raises(InvalidRaster, match="more than the limit"):
        build_item(huge, "rasters", datetime=WHEN)


def test_the_pixel_limit_is_an_option(tmp_path) -> None:
    with rasterio.open(RASTERS / "rasterio/byte.tif") as dataset:
        pixels = dataset.width * dataset.height
    small = ExtractOptions(max_pixels=pixels - 1)
    with pytest.raises(InvalidRaster, match=f"more than the limit of {pixels - 1}"):
        build_item(RASTERS / "rasterio/byte.tif", "rasters", datetime=WHEN, options=small)
    assert build_item(RASTERS / "rasterio/byte.tif", "rasters", datetime=WHEN,
                      options=ExtractOptions(max_pixels=pixels))["id"] == "byte"


def test_gdal_errors_name_the_file_not_its_server_path(tmp_path) -> None:
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a raster at all")
    with pytest.raises(UnreadableRaster) as raised:
        build_item(junk, "rasters", datetime=WHEN)
    assert str(tmp_path) not in str(raised.value) and "junk.tif" in str(raised.value)
