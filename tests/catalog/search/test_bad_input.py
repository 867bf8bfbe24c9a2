"""Bad search input gets a typed ``catalog.errors`` error, never a raw database error,
and a hostile filter is only ever a harmless literal.

Each search runs end to end (``build_search`` then ``search``) on the loaded catalog, so
an error the database would raise is caught here too.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
import shapely
import shapely.geometry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.errors import (
    InvalidBbox,
    InvalidCursor,
    InvalidDatetime,
    InvalidFilter,
    InvalidGeometry,
    InvalidInput,
    InvalidSortBy,
)
from catalog.search import SearchPage, build_search, search
from tests.support.paths import STAC_DATA

STAC_SERVER = STAC_DATA / "stac-server"
DROP_ITEMS = "x'); DROP TABLE items; --"


def _geojson(relative: str) -> dict[str, Any]:
    return orjson.loads((STAC_SERVER / relative).read_bytes())


async def _run(sessions: async_sessionmaker[AsyncSession], **params: Any) -> SearchPage:
    async with sessions() as session:
        return await search(session, build_search(**params))


async def _item_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()


def _reencoded(token: str, change: dict[str, Any]) -> str:
    payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return base64.urlsafe_b64encode(orjson.dumps({**payload, **change})).decode().rstrip("=")


# --- bbox ------------------------------------------------------------------------------

BAD_BBOXES = {
    "three-numbers": [1, 2, 3],
    "five-numbers": [-10, -10, 10, 10, 5],
    "south-above-north": [0, 10, 1, 5],
    "latitude-95": [0, 0, 1, 95],
    "longitude-200": [0, 0, 200, 1],
    "letters-query-string": "abc",
    "letters-in-list": ["a", "b", "c", "d"],
    "not-a-number": ["nan", 0, 1, 1],
    "infinite": [0, 0, "inf", 1],
    "3d-elevation-reversed": [0, 0, 100, 1, 1, 10],
}


@pytest.mark.parametrize("bbox", BAD_BBOXES.values(), ids=BAD_BBOXES.keys())
async def test_malformed_bbox_raises_invalid_bbox(bbox: Any, loaded_sessions) -> None:
    with pytest.raises(InvalidBbox):
        await _run(loaded_sessions, bbox=bbox)


async def test_bbox_with_intersects_raises_invalid_input(loaded_sessions) -> None:
    with pytest.raises(InvalidInput):
        await _run(
            loaded_sessions,
            bbox=[0, 0, 1, 1],
            intersects={"type": "Point", "coordinates": [0.5, 0.5]},
        )


# --- intersects -------------------------------------------------------------------------

BAD_GEOMETRIES = {
    "unclosed-ring": _geojson("geometry/badGeoUnclosed.json"),
    "polygon-nested-as-linestring": orjson.loads(
        (STAC_SERVER / "stac/badGeometryItem.json").read_bytes()
    )["geometry"],
    "ring-of-two-positions": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
    "latitude-100": {"type": "Point", "coordinates": [10, 100]},
    "string-coordinates": {"type": "Point", "coordinates": ["a", "b"]},
    "unknown-type": {"type": "Circle", "coordinates": [0, 0], "radius": 1},
    "empty-point": {"type": "Point", "coordinates": []},
    "wkt-string": "POINT (1 2)",
}


@pytest.mark.parametrize("geometry", BAD_GEOMETRIES.values(), ids=BAD_GEOMETRIES.keys())
async def test_invalid_intersects_raises_invalid_geometry(geometry: Any, loaded_sessions) -> None:
    with pytest.raises(InvalidGeometry):
        await _run(loaded_sessions, intersects=geometry)


# Well-formed but self-intersecting search areas are repaired (make_valid), not refused:
# they search exactly like their repaired form.
SELF_INTERSECTING_AREAS = {
    "spike-self-intersection": _geojson("geometry/badGeoFourPoints.json"),
    "multipolygon-self-intersection": _geojson("geometry/badGeoFourPointsMultiPolygon.json"),
    "multipolygon-with-degenerate-part": _geojson("geometry/badGeoRightHandRule2.json"),
    "bowtie-over-alabama": {
        "type": "Polygon",
        "coordinates": [[[-87, 30], [-85, 32], [-85, 30], [-87, 32], [-87, 30]]],
    },
}


@pytest.mark.parametrize(
    "geometry", SELF_INTERSECTING_AREAS.values(), ids=SELF_INTERSECTING_AREAS.keys()
)
async def test_self_intersecting_area_searches_as_its_repair(
    geometry: Any, loaded_sessions
) -> None:
    area = shapely.make_valid(shapely.geometry.shape(geometry), method="structure")
    repaired = shapely.geometry.mapping(area)
    page = await _run(loaded_sessions, intersects=geometry, limit=1000)
    expected = await _run(loaded_sessions, intersects=repaired, limit=1000)
    assert [i["id"] for i in page.items] == [i["id"] for i in expected.items]


# RFC 7946 section 3.1.6: parsers should not reject polygons that break the right-hand
# rule; repeated consecutive positions leave a polygon valid too.
ACCEPTED_ODDITIES = {
    "clockwise-polygon": _geojson("geometry/badGeoRightHandRule.json"),
    "repeated-consecutive-position": _geojson("geometry/badGeoDuplicateConsecutive.json"),
}


@pytest.mark.parametrize("geometry", ACCEPTED_ODDITIES.values(), ids=ACCEPTED_ODDITIES.keys())
async def test_valid_but_unusual_polygon_is_accepted(geometry: Any, loaded_sessions) -> None:
    page = await _run(loaded_sessions, intersects=geometry)
    assert page.items == []


# --- datetime ---------------------------------------------------------------------------

BAD_DATETIMES = {
    "month-13": "2020-13-01T00:00:00Z",
    "february-30": "2020-02-30T00:00:00Z",
    "hour-25": "2020-01-01T25:00:00Z",
    "date-only": "2020-01-01",
    "no-offset": "2020-01-01T00:00:00",
    "offset-without-colon": "2020-01-01T00:00:00+0100",
    "comma-fraction": "2020-01-01T00:00:00,5Z",
    "dot-without-fraction": "2020-01-01T00:00:00.Z",
    "two-digit-year": "20-01-01T00:00:00Z",
    "word": "yesterday",
    "end-before-start": "2021-01-01T00:00:00Z/2020-01-01T00:00:00Z",
    "both-ends-open": "../..",
    "bare-slash": "/",
    "open-and-empty": "../",
    "three-parts": "2020-01-01T00:00:00Z/2020-02-01T00:00:00Z/2020-03-01T00:00:00Z",
    "leading-slash-interval": "/2020-01-01T00:00:00Z/2020-02-01T00:00:00Z",
    "beyond-year-9999-in-utc": "9999-12-31T23:59:59-12:00",
    "before-year-1-in-utc": "0001-01-01T00:00:00+14:00",
    "blank": "   ",
}


@pytest.mark.parametrize("value", BAD_DATETIMES.values(), ids=BAD_DATETIMES.keys())
async def test_malformed_datetime_raises_invalid_datetime(value: str, loaded_sessions) -> None:
    with pytest.raises(InvalidDatetime):
        await _run(loaded_sessions, datetime=value)


# --- filter -----------------------------------------------------------------------------

BAD_FILTERS: dict[str, dict[str, Any]] = {
    "syntax-error": {"filter": "eo:cloud_cover <<< 5"},
    "unbalanced-parenthesis": {"filter": "(gsd = 1"},
    "truncated-json-text": {"filter": '{"op": "=", "args": [', "filter_lang": "cql2-json"},
    "unknown-language": {"filter": "gsd = 1", "filter_lang": "sql"},
    "number-as-filter": {"filter": 5},
    "list-as-filter": {"filter": [{"op": "=", "args": [1, 1]}]},
    "text-compared-with-number": {"filter": "id = 5"},
    "between-with-text-bounds": {"filter": "gsd BETWEEN 'a' AND 'b'"},
    "in-with-mixed-types": {"filter": "gsd IN ('a', 1)"},
    "like-with-number-pattern": {"filter": {"op": "like", "args": [{"property": "id"}, 5]}},
    "and-without-arguments": {"filter": {"op": "and", "args": []}},
    "arithmetic": {"filter": {"op": "=", "args": [{"property": "gsd"},
                                                  {"op": "+", "args": [1, 2]}]}},
    "accenti": {"filter": "ACCENTI(platform) = ACCENTI('x')"},
    "nested-too-deep": {"filter": "NOT (" * 70 + "gsd = 1" + ")" * 70},
}


@pytest.mark.parametrize("params", BAD_FILTERS.values(), ids=BAD_FILTERS.keys())
async def test_bad_filter_raises_invalid_filter(params: dict[str, Any], loaded_sessions) -> None:
    with pytest.raises(InvalidFilter):
        await _run(loaded_sessions, **params)


async def test_unclosed_geometry_in_filter_raises_invalid_geometry(loaded_sessions) -> None:
    with pytest.raises(InvalidGeometry):
        await _run(
            loaded_sessions,
            filter={"op": "s_intersects", "args": [
                {"property": "geometry"},
                {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1]]]},
            ]},
        )


async def test_invalid_timestamp_in_filter_raises_invalid_datetime(loaded_sessions) -> None:
    with pytest.raises(InvalidDatetime):
        await _run(loaded_sessions, filter="T_AFTER(datetime, TIMESTAMP('2020-13-01T00:00:00Z'))")


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "id = 'a\x00b'"},
        {"collections": ["naip", "a\x00b"], "sortby": "gsd"},
        {"collections": ["a\x00b"]},
    ],
    ids=["in-filter", "in-collections-sorted-by-property", "in-collections"],
)
async def test_nul_character_raises_invalid_input(params, loaded_sessions) -> None:
    with pytest.raises(InvalidInput):
        await _run(loaded_sessions, **params)


# --- hostile filters --------------------------------------------------------------------

HOSTILE: dict[str, dict[str, Any]] = {
    "quote-in-text-literal": {"filter": "id = 'x''; DROP TABLE items; --'"},
    "quote-in-property-name": {"filter": {"op": "=", "args": [{"property": DROP_ITEMS}, 1]}},
    "quote-in-quoted-property": {"filter": f"\"{DROP_ITEMS}\" = 'al'"},
    "quote-in-like-pattern": {"filter": "platform LIKE '%''; DROP TABLE items; --'"},
    "quote-in-ids": {"ids": [DROP_ITEMS]},
    "quote-in-collections": {"collections": [DROP_ITEMS]},
}


@pytest.mark.parametrize("params", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_input_is_a_literal_matching_nothing(
    params: dict[str, Any], loaded_sessions
) -> None:
    page = await _run(loaded_sessions, **params, count=True)
    assert (page.items, page.matched) == ([], 0)


@pytest.mark.parametrize("params", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_input_leaves_the_items_table_intact(
    params: dict[str, Any], loaded_sessions
) -> None:
    before = await _item_count(loaded_sessions)
    await _run(loaded_sessions, **params)
    assert await _item_count(loaded_sessions) == before > 0


async def test_hostile_sortby_raises_invalid_sortby(loaded_sessions) -> None:
    with pytest.raises(InvalidSortBy):
        await _run(loaded_sessions, sortby=DROP_ITEMS)


# --- sortby -----------------------------------------------------------------------------

BAD_SORTBY: dict[str, dict[str, Any]] = {
    "unknown-property": {"sortby": "no_such_property"},
    "geometry": {"sortby": "geometry"},
    "empty-field": {"sortby": "datetime,,id"},
    "direction-up": {"sortby": [{"field": "id", "direction": "up"}]},
    "entry-without-field": {"sortby": [{"direction": "asc"}]},
    "property-of-another-collection": {"sortby": "naip:year", "collections": ["joplin"]},
}


@pytest.mark.parametrize("params", BAD_SORTBY.values(), ids=BAD_SORTBY.keys())
async def test_bad_sortby_raises_invalid_sortby(params: dict[str, Any], loaded_sessions) -> None:
    with pytest.raises(InvalidSortBy):
        await _run(loaded_sessions, **params)


# --- paging tokens ----------------------------------------------------------------------


@pytest.fixture
async def id_sorted_token(loaded_sessions) -> str:
    """A next-page token of a search sorted by id."""
    page = await _run(loaded_sessions, sortby="id", limit=2)
    assert page.next_token is not None
    return page.next_token


async def test_token_of_another_sort_raises_invalid_cursor(
    id_sorted_token: str, loaded_sessions
) -> None:
    with pytest.raises(InvalidCursor):
        await _run(loaded_sessions, sortby="-datetime", token=id_sorted_token)


@pytest.mark.parametrize(
    "token",
    ["garbage!!", "bm90IGpzb24", "W10", "ünïcode", "e30"],
    ids=["not-base64", "not-json", "json-array", "non-ascii", "empty-object"],
)
async def test_garbage_token_raises_invalid_cursor(token: str, loaded_sessions) -> None:
    with pytest.raises(InvalidCursor):
        await _run(loaded_sessions, sortby="id", token=token)


@pytest.mark.parametrize(
    "change",
    [{"v": ["only-one-value"]}, {"v": [1, 2]}, {"d": "x"}, {"v": "abc"}],
    ids=["too-few-values", "id-not-a-string", "unknown-direction", "values-not-a-list"],
)
async def test_tampered_token_raises_invalid_cursor(
    change: dict[str, Any], id_sorted_token: str, loaded_sessions
) -> None:
    with pytest.raises(InvalidCursor):
        await _run(loaded_sessions, sortby="id", token=_reencoded(id_sorted_token, change))


async def test_token_with_impossible_datetime_raises_invalid_cursor(loaded_sessions) -> None:
    page = await _run(loaded_sessions, limit=2)
    token = _reencoded(page.next_token, {"v": ["2020-13-01T00:00:00Z", "naip", "x"]})
    with pytest.raises(InvalidCursor):
        await _run(loaded_sessions, token=token)


# --- other parameters -------------------------------------------------------------------

BAD_PARAMETERS: dict[str, dict[str, Any]] = {
    "limit-zero": {"limit": 0},
    "limit-negative": {"limit": -5},
    "limit-word": {"limit": "ten"},
    "limit-fraction": {"limit": 2.5},
    "limit-boolean": {"limit": True},
    "ids-not-strings": {"ids": [1, 2]},
    "collections-not-strings": {"collections": [None]},
}


@pytest.mark.parametrize("params", BAD_PARAMETERS.values(), ids=BAD_PARAMETERS.keys())
async def test_bad_parameter_raises_invalid_input(params: dict[str, Any], loaded_sessions) -> None:
    with pytest.raises(InvalidInput):
        await _run(loaded_sessions, **params)
