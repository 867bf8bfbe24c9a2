"""``catalog.search`` against the independent reference in ``tests.support.reference``.

Every search runs on the catalog loaded with all of ``../shared/data/stac`` and on the
reference over the source files; the items, their order and the count must be the same.
Paging is walked in ``test_paging_reference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.search import build_search, search
from tests.support.paths import STAC_DATA
from tests.support.reference import Key, Reference

ALL = 5_000  # more than the catalog holds: one page answers everything


def _geojson(relative: str) -> dict[str, Any]:
    return orjson.loads((STAC_DATA / "stac-server" / relative).read_bytes())


def prop(name: str) -> dict[str, str]:
    return {"property": name}


def op(name: str, *args: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args)}


def ts(text: str) -> dict[str, str]:
    return {"timestamp": text}


GREENLAND = _geojson("stac/intersectsGeometry.json")
NOWHERE = _geojson("stac/noIntersectsGeometry.json")
CCW_SQUARE = _geojson("geometry/polygonWoundCCW.json")
JOPLIN_BOX = [-94.6, 37.05, -94.55, 37.07]
NAIP_BOX = {
    "type": "Polygon",
    "coordinates": [[[-85.9, 30.85], [-85.6, 30.85], [-85.6, 31.0], [-85.9, 31.0], [-85.9, 30.85]]],
}
GREENLAND_AND_NAIP = {
    "type": "MultiPolygon",
    "coordinates": [GREENLAND["coordinates"], NAIP_BOX["coordinates"]],
}
NAIP_POINT = {"type": "Point", "coordinates": [-85.78, 30.97]}
# A corner shared by four joplin tiles: it touches each of them.
JOPLIN_CORNER = {"type": "Point", "coordinates": [-94.6334839, 37.0595608]}
JOPLIN_LINE = {"type": "LineString", "coordinates": [[-94.70, 37.04], [-94.40, 37.10]]}


@dataclass(frozen=True)
class Case:
    """One search: the parameters as a client sends them, and the CQL2-JSON the reference
    evaluates when the client's filter is CQL2 text."""

    name: str
    params: dict[str, Any]
    cql2_json: dict[str, Any] | None = None
    empty: bool = False

    def reference_params(self) -> dict[str, Any]:
        params = {k: v for k, v in self.params.items() if k != "filter_lang"}
        if self.cql2_json is not None:
            params["filter"] = self.cql2_json
        assert not isinstance(params.get("filter"), str), f"{self.name}: give the CQL2-JSON"
        return params


CASES = [
    # --- bbox -------------------------------------------------------------------------
    Case("bbox-small-joplin", {"bbox": JOPLIN_BOX}),
    Case("bbox-large-alabama", {"bbox": [-88.5, 30.0, -85.0, 31.5]}),
    Case("bbox-3d", {"bbox": [-94.6, 37.05, -100.0, -94.55, 37.07, 2500.0]}),
    Case("bbox-as-query-string", {"bbox": "-94.6,37.05,-94.55,37.07"}),
    Case("bbox-edge-on-tile-boundary", {"bbox": [-94.7, 37.0, -94.6334839, 37.2]}),
    Case("bbox-crossing-antimeridian", {"bbox": [170.0, -50.0, -170.0, 60.0]}),
    Case("bbox-3d-crossing-antimeridian", {"bbox": [175.0, -5.0, 0.0, -175.0, 35.0, 10.0]}),
    Case("bbox-polar", {"bbox": [-10.0, 79.0, 20.0, 85.0]}),
    Case("bbox-whole-world", {"bbox": [-180.0, -90.0, 180.0, 90.0]}),
    Case("bbox-open-ocean", {"bbox": [-30.0, -10.0, -29.0, -9.0]}, empty=True),
    # --- intersects -------------------------------------------------------------------
    Case("intersects-polygon", {"intersects": GREENLAND}),
    Case("intersects-polygon-no-match", {"intersects": NOWHERE}, empty=True),
    Case("intersects-ccw-polygon", {"intersects": CCW_SQUARE}, empty=True),
    Case("intersects-multipolygon", {"intersects": GREENLAND_AND_NAIP}),
    Case("intersects-point", {"intersects": NAIP_POINT}),
    Case("intersects-point-on-shared-corner", {"intersects": JOPLIN_CORNER}),
    Case("intersects-line", {"intersects": JOPLIN_LINE}),
    # --- datetime ---------------------------------------------------------------------
    Case("datetime-instant", {"datetime": "2000-02-02T00:00:00Z"}),
    Case("datetime-instant-inside-a-range", {"datetime": "2021-01-14T22:19:00Z"}),
    Case("datetime-closed", {"datetime": "2015-01-01T00:00:00Z/2018-01-01T00:00:00Z"}),
    Case("datetime-open-start", {"datetime": "../1991-01-01T00:00:00Z"}),
    Case("datetime-empty-start", {"datetime": "/1991-01-01T00:00:00Z"}),
    Case("datetime-open-end", {"datetime": "2022-01-01T00:00:00Z/.."}),
    Case("datetime-fractional-instant", {"datetime": "2015-02-19T15:06:12.565047Z"}),
    Case(
        "datetime-fractional-closed-bounds-included",
        {"datetime": "2017-08-31T17:24:57.555491Z/2017-08-31T19:54:26.5328Z"},
    ),
    Case("datetime-positive-offset", {"datetime": "2017-08-31T19:27:54.96053+02:00"}),
    Case("datetime-negative-offset", {"datetime": "2000-02-01T19:00:00-05:00"}),
    Case(
        "datetime-overlaps-range-after-nominal",
        {"datetime": "2022-04-28T03:44:40Z/2022-04-28T03:50:00Z"},
    ),
    Case("datetime-before-everything", {"datetime": "../1950-01-01T00:00:00Z"}, empty=True),
    # The Sentinel-1 item runs 03:44:17.7-03:44:42.7 with its nominal datetime 03:44:30.2:
    # windows that meet its range on one side of the nominal datetime only.
    Case(
        "datetime-open-start-ending-before-a-nominal-datetime-inside-the-range",
        {"datetime": "../2022-04-28T03:44:20Z", "sortby": "-datetime"},
    ),
    Case(
        "datetime-window-between-range-start-and-nominal-datetime",
        {"datetime": "2022-04-28T03:44:20Z/2022-04-28T03:44:25Z"},
    ),
    Case(
        "datetime-open-end-starting-after-a-nominal-datetime-inside-the-range",
        {"datetime": "2022-04-28T03:44:35Z/..", "sortby": "datetime"},
    ),
    # --- CQL2 on properties -----------------------------------------------------------
    Case(
        "cql2-text-cloud-cover-below",
        {"filter": "eo:cloud_cover < 10"},
        op("<", prop("eo:cloud_cover"), 10),
    ),
    Case(
        "cql2-json-cloud-cover-between",
        {"filter": op("between", prop("eo:cloud_cover"), 20, 40)},
    ),
    Case("cql2-text-gsd-float-equal", {"filter": "gsd = 0.6"}, op("=", prop("gsd"), 0.6)),
    Case("cql2-text-gsd-at-most-float", {"filter": "gsd <= 0.6"}, op("<=", prop("gsd"), 0.6)),
    Case("cql2-json-gsd-between-floats", {"filter": op("between", prop("gsd"), 0.3, 0.6)}),
    Case("cql2-json-gsd-in-floats", {"filter": op("in", prop("gsd"), [0.3, 0.6])}),
    Case("cql2-json-gsd-int-equals-float", {"filter": op("=", prop("gsd"), 1)}),
    Case(
        "cql2-text-naip-year-string",
        {"filter": "\"naip:year\" = '2013'"},
        op("=", prop("naip:year"), "2013"),
    ),
    Case("cql2-json-naip-year-number", {"filter": op("=", prop("naip:year"), 2013)}),
    # Timestamps are left out of the GIN index of properties: equality is typed instead.
    Case(
        "cql2-text-created-string-equal",
        {"filter": "created = '2017-09-01T19:31:37Z'"},
        op("=", prop("created"), "2017-09-01T19:31:37Z"),
    ),
    Case(
        "cql2-text-naip-year-string-below",
        {"filter": "naip:year < '2015'"},
        op("<", prop("naip:year"), "2015"),
    ),
    Case(
        "cql2-text-state-and-year",
        {"filter": "naip:state = 'al' AND naip:year = '2019'"},
        op("and", op("=", prop("naip:state"), "al"), op("=", prop("naip:year"), "2019")),
    ),
    Case(
        "cql2-text-epsg-or",
        {"filter": "proj:epsg = 32615 OR proj:epsg = 3857"},
        op("or", op("=", prop("proj:epsg"), 32615), op("=", prop("proj:epsg"), 3857)),
    ),
    Case(
        "cql2-text-not-equal-operator",
        {"filter": "proj:epsg <> 26916"},
        op("<>", prop("proj:epsg"), 26916),
    ),
    Case(
        "cql2-text-not-of-equality",
        {"filter": "NOT (proj:epsg = 26916)"},
        op("not", op("=", prop("proj:epsg"), 26916)),
    ),
    Case(
        "cql2-text-not-of-comparison",
        {"filter": "NOT (eo:cloud_cover < 50)"},
        op("not", op("<", prop("eo:cloud_cover"), 50)),
    ),
    Case(
        "cql2-text-platform-like",
        {"filter": "platform LIKE 'landsat%'"},
        op("like", prop("platform"), "landsat%"),
    ),
    Case(
        "cql2-text-platform-in",
        {"filter": "platform IN ('landsat-8', 'SENTINEL-1A', 'SS02')"},
        op("in", prop("platform"), ["landsat-8", "SENTINEL-1A", "SS02"]),
    ),
    Case(
        "cql2-text-casei",
        {"filter": "CASEI(platform) = CASEI('ss02')"},
        op("=", op("casei", prop("platform")), op("casei", "ss02")),
    ),
    Case(
        "cql2-text-is-null",
        {"filter": "eo:cloud_cover IS NULL"},
        op("isNull", prop("eo:cloud_cover")),
    ),
    Case(
        "cql2-text-is-not-null",
        {"filter": "view:off_nadir IS NOT NULL"},
        op("not", op("isNull", prop("view:off_nadir"))),
    ),
    Case(
        "cql2-json-instruments-a-contains",
        {"filter": op("a_contains", prop("instruments"), ["PS2"])},
    ),
    Case(
        "cql2-text-id-like-with-collection",
        {"filter": "id LIKE 'pgstac-test-item-00%' AND collection = 'pgstac-test-collection'"},
        op(
            "and",
            op("like", prop("id"), "pgstac-test-item-00%"),
            op("=", prop("collection"), "pgstac-test-collection"),
        ),
    ),
    Case(
        "cql2-json-properties-prefix",
        {"filter": op(">", prop("properties.view:off_nadir"), 1)},
    ),
    # --- CQL2 spatial and temporal ----------------------------------------------------
    Case(
        "cql2-text-s-intersects-polygon",
        {"filter": "S_INTERSECTS(geometry, POLYGON((-85.9 30.85, -85.6 30.85, -85.6 31.0, "
                   "-85.9 31.0, -85.9 30.85)))"},
        op("s_intersects", prop("geometry"), NAIP_BOX),
    ),
    Case(
        "cql2-json-s-within-bbox",
        {"filter": op("s_within", prop("geometry"), {"bbox": [-94.65, 37.0, -94.5, 37.2]})},
    ),
    Case(
        "cql2-json-s-contains-point",
        {"filter": op("s_contains", prop("geometry"), NAIP_POINT)},
    ),
    Case(
        "cql2-text-s-disjoint-in-collection",
        {"filter": "S_DISJOINT(geometry, BBOX(-94.6, 37.05, -94.55, 37.07))",
         "collections": ["joplin"]},
        op("s_disjoint", prop("geometry"), {"bbox": [-94.6, 37.05, -94.55, 37.07]}),
    ),
    Case(
        "cql2-text-t-intersects-interval",
        {"filter": "T_INTERSECTS(datetime, INTERVAL('2021-01-14T22:19:00Z', "
                   "'2021-01-14T22:30:00Z'))"},
        op("t_intersects", prop("datetime"),
           {"interval": ["2021-01-14T22:19:00Z", "2021-01-14T22:30:00Z"]}),
    ),
    Case(
        "cql2-json-t-before",
        {"filter": op("t_before", prop("datetime"), ts("2011-08-01T00:00:00Z"))},
    ),
    Case(
        "cql2-text-t-after",
        {"filter": "T_AFTER(datetime, TIMESTAMP('2021-01-01T00:00:00Z'))"},
        op("t_after", prop("datetime"), ts("2021-01-01T00:00:00Z")),
    ),
    Case(
        "cql2-json-t-during",
        {"filter": op("t_during", prop("datetime"),
                      {"interval": ["2021-01-14T22:18:00Z", "2021-01-14T22:20:00Z"]})},
    ),
    Case(
        "cql2-json-t-after-on-property",
        {"filter": op("t_after", prop("updated"), ts("2017-09-01T00:00:00Z"))},
    ),
    Case(
        "cql2-json-datetime-comparison",
        {"filter": op(">=", prop("datetime"), ts("2023-07-30T16:00:00Z"))},
    ),
    # --- ids, collections and combinations --------------------------------------------
    Case("ids-same-id-in-two-collections", {"ids": ["pgstac-test-item-duplicated"]}),
    Case(
        "ids-and-collections",
        {"ids": ["pgstac-test-item-duplicated", "test-item", "test_item2"],
         "collections": ["pgstac-test-collection2", "test-collection"]},
    ),
    Case("collections-only", {"collections": ["joplin", "landsat-8-l1"]}),
    Case("collections-query-string", {"collections": "landsat-c2-l1,sentinel-1-grd"}),
    Case("ids-unknown", {"ids": ["no-such-item"]}, empty=True),
    Case(
        "bbox-datetime-and-filter",
        {"bbox": [-88.5, 30.0, -85.0, 31.5],
         "datetime": "2019-01-01T00:00:00Z/2021-12-31T23:59:59Z",
         "filter": "gsd <= 0.6"},
        op("<=", prop("gsd"), 0.6),
    ),
    # --- sort ---------------------------------------------------------------------------
    Case("sort-datetime-ascending", {"sortby": "datetime"}),
    Case("sort-datetime-descending-explicit", {"sortby": "-datetime"}),
    Case("sort-id-ascending", {"sortby": "id"}),
    Case("sort-id-descending", {"sortby": "-id"}),
    Case("sort-gsd-ascending-with-ties", {"sortby": "gsd"}),
    Case("sort-gsd-descending-with-ties", {"sortby": "-gsd"}),
    Case(
        "sort-naip-year-mixed-types",
        {"sortby": "naip:year", "collections": ["pgstac-test-collection",
                                                "pgstac-test-collection2"]},
    ),
    Case("sort-platform-with-missing", {"sortby": "-platform"}),
    Case("sort-collection-then-datetime-mixed", {"sortby": "collection,-datetime"}),
    Case(
        "sort-json-form-cloud-cover",
        {"sortby": [{"field": "properties.eo:cloud_cover", "direction": "desc"}],
         "filter": "eo:cloud_cover >= 0"},
        op(">=", prop("eo:cloud_cover"), 0),
    ),
    Case("sort-end-datetime", {"sortby": "-end_datetime,id", "collections": ["HLSL30.v1.5"]}),
]



def test_catalog_holds_every_source_item(
    stored_items: dict[Key, dict[str, Any]], source_items: dict[Key, list[dict[str, Any]]]
) -> None:
    assert set(stored_items) == set(source_items)


def test_catalog_holds_no_item_missing_from_the_sources(
    stored_items: dict[Key, dict[str, Any]], source_items: dict[Key, list[dict[str, Any]]]
) -> None:
    assert set(stored_items) <= set(source_items)


def test_catalog_keeps_geometry_and_properties_of_a_source_version(
    stored_items: dict[Key, dict[str, Any]], source_items: dict[Key, list[dict[str, Any]]]
) -> None:
    changed = [
        key for key, stored in stored_items.items()
        if all(
            (v["geometry"], v["properties"]) != (stored["geometry"], stored["properties"])
            for v in source_items[key]
        )
    ]
    assert changed == []


CASE_BY_NAME = {case.name: case for case in CASES}


def _case_params() -> list[Any]:
    return [pytest.param(case, id=case.name) for case in CASES]


def _key(doc: dict[str, Any]) -> Key:
    return (doc["collection"], doc["id"])


async def _search(sessions: async_sessionmaker[AsyncSession], params: dict[str, Any], **extra):
    async with sessions() as session:
        return await search(session, build_search(**params, **extra))


def test_the_cases_have_distinct_names() -> None:
    assert len({case.name for case in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("case", _case_params())
def test_case_matches_items_unless_meant_empty(case: Case, reference: Reference) -> None:
    expected = reference.search(**case.reference_params())
    assert (len(expected) == 0) == case.empty


@pytest.mark.parametrize(
    "bbox", [CASE_BY_NAME["bbox-crossing-antimeridian"].params["bbox"],
             CASE_BY_NAME["bbox-3d-crossing-antimeridian"].params["bbox"]],
    ids=["2d", "3d"],
)
def test_antimeridian_case_matches_items_on_both_sides(
    bbox: list[float], reference: Reference
) -> None:
    by_key = {item.key: item for item in reference.items}
    matched = [by_key[key].geometry.centroid.x for key in reference.search(bbox=bbox)]
    assert min(matched) < -170 and max(matched) > 170


@pytest.mark.parametrize("case", _case_params())
async def test_search_returns_reference_items_in_order(
    case: Case, loaded_sessions: async_sessionmaker[AsyncSession], reference: Reference
) -> None:
    page = await _search(loaded_sessions, case.params, limit=ALL)
    assert [_key(doc) for doc in page.items] == reference.search(**case.reference_params())


@pytest.mark.parametrize("case", _case_params())
async def test_count_equals_reference_count(
    case: Case, loaded_sessions: async_sessionmaker[AsyncSession], reference: Reference
) -> None:
    page = await _search(loaded_sessions, case.params, limit=3, count=True)
    assert page.matched == len(reference.search(**case.reference_params()))
