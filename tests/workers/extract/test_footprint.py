"""Footprints: valid data only, antimeridian splits, whole-world rasters, coverage."""

from __future__ import annotations

import numpy as np
import rasterio
import shapely
from shapely.geometry import MultiPolygon

from tests.support.paths import RASTERS
from workers.extract.footprint import (
    _may_hold_a_pole,
    footprint,
    footprint_bbox,
    pixel_footprint,
)
from workers.extract.scan import ValidGrid


def _footprint(name: str) -> dict:
    with rasterio.open(RASTERS / name) as ds:
        return footprint(ds)


def test_a_raster_across_the_antimeridian_is_split_in_two() -> None:
    found = _footprint("rio-tiler/cog_dateline.tif")
    geometry = shapely.geometry.shape(found["geometry"])
    assert isinstance(geometry, MultiPolygon)
    assert sorted(round(p.bounds[0]) for p in geometry.geoms) == [-180, 178]
    assert found["bbox"][0] > found["bbox"][2]  # west > east: it crosses


def test_a_world_raster_in_lonlat_spans_every_longitude_without_crossing() -> None:
    assert _footprint("rasterio/world.byte.tif")["bbox"] == [-180.0, -75.0, 180.0, 75.0]


def test_a_nodata_collar_is_left_out_of_the_footprint() -> None:
    with rasterio.open(RASTERS / "rasterio/RGB.byte.tif") as ds:
        outline = shapely.box(*rasterio.warp.transform_bounds(ds.crs, "EPSG:4326", *ds.bounds))
        found = shapely.geometry.shape(footprint(ds)["geometry"])
    assert found.area < 0.8 * outline.area


def test_the_footprint_is_counter_clockwise() -> None:
    geometry = shapely.geometry.shape(_footprint("rio-tiler/cog.tif")["geometry"])
    assert geometry.exterior.is_ccw


def test_a_south_up_raster_still_gives_a_counter_clockwise_footprint() -> None:
    found = _footprint("cogeotiff-js/model_transformation.tif")
    geometry = shapely.geometry.shape(found["geometry"])
    assert geometry.exterior.is_ccw and geometry.is_valid


def test_the_pixel_footprint_covers_every_valid_cell_after_simplifying() -> None:
    rng = np.random.default_rng(1)
    cells = rng.random((200, 300)) > 0.6  # speckle: thousands of vertices unsimplified
    grid = ValidGrid(cells, 1, int(cells.sum()))
    area = pixel_footprint(grid, 300, 200)
    rows, cols = np.nonzero(cells)
    assert shapely.get_num_coordinates(area) <= 1000
    assert shapely.covers(area, shapely.points(cols + 0.5, rows + 0.5)).all()
    assert area.within(shapely.box(0, 0, 300, 200))


def test_a_bbox_spanning_the_antimeridian_takes_the_shorter_way() -> None:
    parts = MultiPolygon([shapely.box(170, 0, 180, 1), shapely.box(-180, 0, -175, 1)])
    assert footprint_bbox(parts, crossed=True) == [170.0, 0.0, -175.0, 1.0]
    assert footprint_bbox(parts, crossed=False) == [-180.0, 0.0, 180.0, 1.0]


def test_only_rings_that_may_go_around_a_pole_have_the_poles_looked_up() -> None:
    around = np.linspace(-180.0, 180.0, 73)  # a ring of latitude, closed
    assert _may_hold_a_pole(around)
    assert _may_hold_a_pole(around[::-1])
    regional = np.array([10.0, 11.0, 11.0, 10.0, 10.0])
    assert not _may_hold_a_pole(regional)
    across = np.array([179.0, -179.0, -179.0, 179.0, 179.0])  # the antimeridian, no pole
    assert not _may_hold_a_pole(across)
    assert _may_hold_a_pole(np.array([0.0, 120.0, 0.0]))  # a step too long to tell
