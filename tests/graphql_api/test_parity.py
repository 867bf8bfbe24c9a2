"""GraphQL ``items(...)`` and STAC ``POST /search`` return the same items in the same order.

Each case is a STAC search body; the test turns it into GraphQL arguments, then pages
through both APIs of the same app to the end (``next`` links / ``endCursor``) and compares
the (collection, id) keys, in order. Properties filters go through CQL2 on the STAC side
and through ``where`` or ``filter`` on the GraphQL side.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.graphql_api.conftest import GraphQL
from tests.support.areas import JOPLIN_AOI, NAIP_AREAS

Key = tuple[str, str]
MAX_PAGES = 200


# (name, STAC search body, GraphQL ``where`` conditions replacing the body's filter or None)
CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]] | None]] = [
    ("everything", {"limit": 200}, None),
    ("bbox", {"bbox": [-94.6911621, 37.0332547, -94.6552734, 37.0608064]}, None),
    ("bbox-naip", {"bbox": [-87.9, 30.5, -87.6, 30.8], "limit": 7}, None),
    ("bbox-3d", {"bbox": [-88.0, 30.2, -100.0, -87.0, 31.0, 100.0], "limit": 50}, None),
    ("bbox-antimeridian", {"bbox": [170.0, -60.0, -170.0, 60.0]}, None),
    ("intersects-polygon", {"intersects": JOPLIN_AOI}, None),
    ("intersects-point", {"intersects": {"type": "Point", "coordinates": [-94.67, 37.05]}}, None),
    ("intersects-multipolygon", {"intersects": NAIP_AREAS, "limit": 25}, None),
    ("datetime-closed", {"datetime": "2015-01-01T00:00:00Z/2017-12-31T23:59:59Z"}, None),
    ("datetime-open-start", {"datetime": "../2001-01-01T00:00:00Z"}, None),
    ("datetime-open-end", {"datetime": "2020-06-01T00:00:00Z/..", "limit": 30}, None),
    ("collections", {"collections": ["joplin"], "limit": 7}, None),
    ("collections-several", {"collections": ["landsat-8-l1", "test-collection", "CS3"]}, None),
    ("ids", {"ids": ["pgstac-test-item-0003", "test-item", "pgstac-test-item-duplicated"]}, None),
    ("sort-datetime-asc", {"collections": ["naip"], "sortby": [{"field": "datetime",
                                                                "direction": "asc"}]}, None),
    ("sort-property-desc", {"collections": ["naip"], "limit": 13, "sortby": [
        {"field": "properties.gsd", "direction": "desc"}, {"field": "id", "direction": "asc"}]},
     None),
    ("sort-id", {"sortby": [{"field": "id", "direction": "asc"}], "limit": 100}, None),
    ("filter-cql2-gt", {"filter-lang": "cql2-json", "filter": {
        "op": ">", "args": [{"property": "eo:cloud_cover"}, 50]}}, None),
    ("where-lte", {"filter-lang": "cql2-json", "filter": {
        "op": "<=", "args": [{"property": "eo:cloud_cover"}, 10]}},
     [{"property": "eo:cloud_cover", "lte": 10}]),
    ("where-eq-string", {"filter-lang": "cql2-json", "filter": {
        "op": "=", "args": [{"property": "naip:state"}, "al"]}},
     [{"property": "naip:state", "eq": "al"}]),
    ("where-in", {"filter-lang": "cql2-json", "filter": {
        "op": "in", "args": [{"property": "platform"}, ["landsat-8", "sentinel-2a"]]}},
     [{"property": "platform", "in": ["landsat-8", "sentinel-2a"]}]),
    ("where-like", {"filter-lang": "cql2-json", "filter": {
        "op": "like", "args": [{"property": "id"}, "pgstac-test-item-00%"]}},
     [{"property": "id", "like": "pgstac-test-item-00%"}]),
    ("where-is-null", {"collections": ["naip"], "filter-lang": "cql2-json", "filter": {
        "op": "isNull", "args": [{"property": "eo:cloud_cover"}]}},
     [{"property": "eo:cloud_cover", "isNull": True}]),
    ("where-range", {"filter-lang": "cql2-json", "filter": {"op": "and", "args": [
        {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 5]},
        {"op": "<", "args": [{"property": "eo:cloud_cover"}, 30]}]}},
     [{"property": "eo:cloud_cover", "gte": 5, "lt": 30}]),
    ("combined", {"bbox": [-88.0, 30.4, -85.2, 31.1],
                  "datetime": "2011-01-01T00:00:00Z/2023-12-31T23:59:59Z",
                  "collections": ["naip", "pgstac-test-collection"], "limit": 33}, None),
    ("filter-spatial", {"filter-lang": "cql2-json", "filter": {
        "op": "s_intersects", "args": [{"property": "geometry"}, JOPLIN_AOI]}}, None),
]

ITEMS_QUERY = """
query Parity($collections: [String!], $ids: [String!], $bbox: [Float!], $intersects: GeoJSON,
             $datetime: DatetimeRange, $filter: JSON, $where: [PropertyCondition!],
             $sortBy: [SortBy!], $first: Int, $after: String) {
  items(collections: $collections, ids: $ids, bbox: $bbox, intersects: $intersects,
        datetime: $datetime, filter: $filter, where: $where, sortBy: $sortBy,
        first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id collectionId } }
  }
}
"""


def graphql_variables(body: dict[str, Any], where: list[dict[str, Any]] | None) -> dict:
    """The GraphQL arguments equivalent to a STAC search body."""
    variables: dict[str, Any] = {
        k: body[k] for k in ("collections", "ids", "bbox", "intersects") if k in body
    }
    if "datetime" in body:
        start, end = body["datetime"].split("/")
        variables["datetime"] = {
            "start": None if start == ".." else start, "end": None if end == ".." else end,
        }
    if where is not None:
        variables["where"] = where
    elif "filter" in body:
        variables["filter"] = body["filter"]
    if "sortby" in body:
        variables["sortBy"] = [
            {"field": s["field"], "direction": s["direction"].upper()} for s in body["sortby"]
        ]
    variables["first"] = body.get("limit", 10)
    return variables


async def stac_keys(gql: GraphQL, body: dict[str, Any]) -> list[Key]:
    """Every item of a STAC search, following ``next`` links."""
    keys: list[Key] = []
    request: dict[str, Any] | None = body
    for _ in range(MAX_PAGES):
        response = await gql.client.post("/search", json=request)
        assert response.status_code == 200, response.text
        page = response.json()
        keys += [(f["collection"], f["id"]) for f in page["features"]]
        nxt = next((link for link in page["links"] if link["rel"] == "next"), None)
        if nxt is None:
            return keys
        request = nxt["body"]
    raise AssertionError("too many pages")


async def graphql_keys(gql: GraphQL, variables: dict[str, Any]) -> list[Key]:
    """Every item of a GraphQL ``items`` search, following ``endCursor``."""
    return await paged(gql, ITEMS_QUERY, ["items"], variables)


async def paged(gql: GraphQL, query: str, path: list[str], variables: dict) -> list[Key]:
    """Every item of the connection at ``path`` of ``query``, following ``endCursor``."""
    keys: list[Key] = []
    after = None
    for _ in range(MAX_PAGES):
        data = await gql.data(query, **variables, after=after)
        for name in path:
            data = data[name]
        keys += [(e["node"]["collectionId"], e["node"]["id"]) for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            return keys
        after = data["pageInfo"]["endCursor"]
    raise AssertionError("too many pages")


@pytest.mark.parametrize(("body", "where"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_items_match_stac_search(gql: GraphQL, body: dict, where: list | None) -> None:
    expected = await stac_keys(gql, body)
    assert expected, "every case is chosen to find items"
    found = await graphql_keys(gql, graphql_variables(body, where))
    assert found == expected
    assert len(set(found)) == len(found)
