"""GeoJSON geometries and bboxes (``catalog.geometry``): parsing, validity, antimeridian."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
import shapely
import shapely.geometry

from catalog.errors import InvalidBbox, InvalidGeometry
from catalog.geometry import (
    MAX_AREA_POSITIONS,
    MAX_REPAIR_POSITIONS,
    bbox_2d,
    bbox_boxes,
    bbox_polygon,
    check_search_area,
    geometry_bbox,
    parse_bbox,
    parse_geometries,
    parse_geometry,
    parse_search_area,
)
from tests.support.hostile import circle, random_polygon, star_polygon
from tests.support.paths import STAC_DATA

GEOMETRY_FIXTURES = STAC_DATA / "stac-server" / "geometry"


def _fixture(name: str) -> dict[str, Any]:
    return orjson.loads((GEOMETRY_FIXTURES / name).read_bytes())


def test_2d_bbox_is_returned_as_floats() -> None:
    assert parse_bbox(["-94.6", 37.05, -94.55, "37.07"]) == (-94.6, 37.05, -94.55, 37.07)


def test_3d_bbox_is_accepted() -> None:
    assert parse_bbox([0, 0, -10, 1, 1, 10]) == (0.0, 0.0, -10.0, 1.0, 1.0, 10.0)


BAD_BBOXES = {
    "three-numbers": [1, 2, 3],
    "five-numbers": [1, 2, 3, 4, 5],
    "a-string": "0,0,1,1",
    "letters": ["a", "b", "c", "d"],
    "boolean": [True, 0, 1, 1],
    "null": [None, 0, 1, 1],
    "nan": [math.nan, 0, 1, 1],
    "infinity": [0, 0, math.inf, 1],
    "latitude-95": [0, 0, 1, 95],
    "longitude-181": [-181, 0, 1, 1],
    "south-above-north": [0, 10, 1, 5],
    "elevation-reversed": [0, 0, 10, 1, 1, 5],
}


@pytest.mark.parametrize("bbox", BAD_BBOXES.values(), ids=BAD_BBOXES.keys())
def test_bad_bbox_raises_invalid_bbox(bbox: Any) -> None:
    with pytest.raises(InvalidBbox):
        parse_bbox(bbox)


def test_3d_bbox_reduces_to_west_south_east_north() -> None:
    assert bbox_2d((0, 1, 2, 3, 4, 5)) == (0, 1, 3, 4)


def test_bbox_crossing_the_antimeridian_splits_in_two() -> None:
    assert bbox_boxes((170, -10, -170, 10)) == [(170, -10, 180, 10), (-180, -10, -170, 10)]


def test_bbox_not_crossing_stays_whole() -> None:
    assert bbox_boxes((-170, -10, 170, 10)) == [(-170, -10, 170, 10)]


def test_antimeridian_bbox_polygon_covers_both_sides_only() -> None:
    area = bbox_polygon((170, -10, -170, 10))
    inside = [shapely.Point(175, 0), shapely.Point(-175, 0)]
    assert [area.intersects(p) for p in [*inside, shapely.Point(0, 0)]] == [True, True, False]


def test_ccw_polygon_parses() -> None:
    assert parse_geometry(_fixture("polygonWoundCCW.json")).equals(shapely.box(100, 0, 101, 1))


@pytest.mark.parametrize(
    "name", ["badGeoRightHandRule.json", "badGeoDuplicateConsecutive.json"]
)
def test_valid_polygon_with_unusual_rings_parses(name: str) -> None:
    # RFC 7946 3.1.6: winding order must not make a parser reject a polygon.
    assert parse_geometry(_fixture(name)).is_valid


def test_positions_given_as_tuples_parse() -> None:
    # What pydantic GeoJSON models (stac-fastapi request bodies) dump.
    collection = {
        "type": "GeometryCollection",
        "geometries": ({"type": "Point", "coordinates": (100.0, 0.0)},
                       {"type": "LineString", "coordinates": ((101.0, 0.0), (102.0, 1.0))}),
    }
    assert parse_geometry(collection).equals(
        shapely.GeometryCollection([shapely.Point(100, 0),
                                    shapely.LineString([(101, 0), (102, 1)])])
    )


def test_3d_point_keeps_its_elevation() -> None:
    assert parse_geometry({"type": "Point", "coordinates": [1, 2, 3]}).has_z


INVALID = {
    "unclosed-ring": (_fixture("badGeoUnclosed.json"), "not closed"),
    "spike": (_fixture("badGeoFourPoints.json"), "Self-intersection"),
    "multipolygon-spike": (_fixture("badGeoFourPointsMultiPolygon.json"), "Self-intersection"),
    "degenerate-part": (_fixture("badGeoRightHandRule2.json"), "Self-intersection"),
    "too-few-positions": ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]},
                          "at least 4"),
    "wrong-nesting": ({"type": "Polygon", "coordinates": [[0, 0], [1, 1]]}, "nested"),
    "unknown-type": ({"type": "Sphere", "coordinates": [0, 0]}, "unknown geometry type"),
    "not-an-object": ("POINT (1 2)", "GeoJSON geometry object"),
    "no-coordinates": ({"type": "Point"}, "coordinates"),
    "latitude-91": ({"type": "Point", "coordinates": [0, 91]}, "outside"),
    "empty": ({"type": "Point", "coordinates": []}, "empty"),
    "invalid-member": (
        {"type": "GeometryCollection",
         "geometries": [{"type": "Polygon",
                         "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}]},
        "invalid geometry",
    ),
}


@pytest.mark.parametrize(("geojson", "reason"), INVALID.values(), ids=INVALID.keys())
def test_invalid_geometry_raises_with_reason(geojson: Any, reason: str) -> None:
    with pytest.raises(InvalidGeometry, match=reason):
        parse_geometry(geojson)


def test_batch_error_names_the_offending_label() -> None:
    good = {"type": "Point", "coordinates": [1, 2]}
    bad = {"type": "Point", "coordinates": [1, 200]}
    with pytest.raises(InvalidGeometry, match=r"^second: "):
        parse_geometries([good, bad], ["first", "second"])


def test_geometry_bbox_is_west_south_east_north() -> None:
    assert geometry_bbox(shapely.box(-1, -2, 3, 4)) == [-1.0, -2.0, 3.0, 4.0]


# --- search areas: bounded repair (issue 16) -----------------------------------------------


def _structure_repair(geojson: dict[str, Any]) -> shapely.Geometry:
    return shapely.make_valid(shapely.geometry.shape(geojson), method="structure")


@pytest.mark.parametrize("geojson", [star_polygon(99), random_polygon(99), star_polygon(5)],
                         ids=["star-99", "random-99", "pentagram"])
def test_small_self_intersecting_areas_are_repaired_as_the_area_they_enclose(
    geojson: dict[str, Any],
) -> None:
    area = parse_search_area(geojson)
    assert area.is_valid
    assert area.equals(_structure_repair(geojson))


@pytest.mark.parametrize("geojson", [star_polygon(151), random_polygon(500)],
                         ids=["star-151", "random-500"])
def test_larger_self_intersecting_areas_are_refused_without_repair(
    geojson: dict[str, Any],
) -> None:
    with pytest.raises(InvalidGeometry, match=f"at most {MAX_REPAIR_POSITIONS} positions"):
        parse_search_area(geojson)


def test_areas_of_too_many_positions_are_refused_before_parsing() -> None:
    many = circle(MAX_AREA_POSITIONS)  # one position more, closing the ring
    with pytest.raises(InvalidGeometry, match=f"at most {MAX_AREA_POSITIONS}"):
        check_search_area(many)
    with pytest.raises(InvalidGeometry, match=f"at most {MAX_AREA_POSITIONS}"):
        parse_search_area(random_polygon(20_000))
    assert parse_search_area(circle(MAX_AREA_POSITIONS - 1)).is_valid


def test_positions_of_every_part_count() -> None:
    parts = [circle(4000)["coordinates"]] * 3
    with pytest.raises(InvalidGeometry, match="12003 positions"):
        check_search_area({"type": "MultiPolygon", "coordinates": parts})


def test_ragged_coordinates_are_refused_with_the_reason() -> None:
    ragged = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]], 5]}
    with pytest.raises(InvalidGeometry, match="nested"):
        check_search_area(ragged)
