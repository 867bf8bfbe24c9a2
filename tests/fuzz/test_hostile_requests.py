"""What probing the service as a hostile user found (issue 16), sent to both APIs.

Every case is refused with the API's typed error, or answered, quickly and within bounded
memory: never a 5xx, a plain-text body, SQL or driver text, or a worker kept busy.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import shapely
import shapely.geometry

from catalog.search.aggregate import MAX_BUCKETS
from catalog.search.request import MAX_LIST_ENTRIES
from tests.graphql_api.conftest import GraphQL
from tests.support.hostile import (
    nested_collection,
    nested_list,
    nested_predicate,
    random_polygon,
    star_polygon,
)

LEAKS = ("select ", "sqlalchemy", "asyncpg", "traceback", "$1", "::", 'file "')


def assert_stac_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A STAC error of that status and code that says nothing of our internals."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert len(response.content) < 2000
    for leak in LEAKS:
        assert leak not in response.text.lower(), response.text[:500]
    return body


async def graphql_errors(gql: GraphQL, query: str, **variables: Any) -> list[dict[str, Any]]:
    """The errors of an operation that must fail, checked for leaks."""
    response = await gql.client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code in (200, 400), response.text[:500]
    assert len(response.content) < 2000
    for leak in LEAKS:
        assert leak not in response.text.lower(), response.text[:500]
    errors = response.json().get("errors")
    assert errors, response.text[:500]
    return errors


# --- unbounded geometry repair -----------------------------------------------------------

REFUSED_AREAS = {
    "random-20000": random_polygon(20_000),
    "random-500": random_polygon(500),
    "star-151": star_polygon(151),
}


@pytest.mark.parametrize("area", REFUSED_AREAS.values(), ids=REFUSED_AREAS.keys())
async def test_stac_search_refuses_areas_too_costly_to_repair(
    stac_client: httpx.AsyncClient, area: dict[str, Any]
) -> None:
    response = await stac_client.post("/search", json={"intersects": area})
    assert_stac_error(response, 400, "INVALID_GEOMETRY")


@pytest.mark.parametrize("area", REFUSED_AREAS.values(), ids=REFUSED_AREAS.keys())
async def test_stac_filter_refuses_areas_too_costly_to_repair(
    stac_client: httpx.AsyncClient, area: dict[str, Any]
) -> None:
    body = {"filter-lang": "cql2-json",
            "filter": {"op": "s_intersects", "args": [{"property": "geometry"}, area]}}
    response = await stac_client.post("/search", json=body)
    assert_stac_error(response, 400, "INVALID_GEOMETRY")


@pytest.mark.parametrize("area", REFUSED_AREAS.values(), ids=REFUSED_AREAS.keys())
@pytest.mark.parametrize("field", ["items(intersects: $g) { nodes { id } }",
                                   "aggregate(intersects: $g) { totalCount }"])
async def test_graphql_refuses_areas_too_costly_to_repair(
    gql: GraphQL, field: str, area: dict[str, Any]
) -> None:
    errors = await graphql_errors(gql, f"query($g: GeoJSON) {{ {field} }}", g=area)
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_small_star_is_searched_as_the_area_it_encloses(
    stac_client: httpx.AsyncClient, gql: GraphQL
) -> None:
    star = star_polygon(99, radius=1, center=(-86, 31))  # over the NAIP items of Alabama
    stac = await stac_client.post("/search", json={"intersects": star, "limit": 100})
    assert stac.status_code == 200, stac.text[:500]
    data = await gql.data("query($g: GeoJSON) { items(intersects: $g, first: 100) "
                          "{ nodes { id } } }", g=star)
    found = [f["id"] for f in stac.json()["features"]]
    assert found and found == [n["id"] for n in data["items"]["nodes"]]
    enclosed = shapely.make_valid(shapely.geometry.shape(star), method="structure")
    reference = await stac_client.post("/search", json={
        "intersects": shapely.geometry.mapping(enclosed), "limit": 100})
    assert found == [f["id"] for f in reference.json()["features"]]


# --- long lists: a clear 400, never the statement echoed ----------------------------------

MANY = 40_000
MANY_IDS = [f"id-{i}" for i in range(MANY)]
BIG_IN = {"op": "in", "args": [{"property": "gsd"}, list(range(33_000))]}
BIG_OR = {"op": "or", "args": [{"op": "=", "args": [{"property": "gsd"}, i]}
                               for i in range(33_000)]}
LONG_LISTS = {
    "ids": ({"ids": MANY_IDS}, "INVALID_INPUT"),
    "collections": ({"collections": MANY_IDS}, "INVALID_INPUT"),
    "in-33000": ({"filter-lang": "cql2-json", "filter": BIG_IN}, "INVALID_FILTER"),
    "or-33000": ({"filter-lang": "cql2-json", "filter": BIG_OR}, "INVALID_FILTER"),
    "a_overlaps-33000": ({"filter-lang": "cql2-json", "filter": {
        "op": "a_overlaps", "args": [{"property": "instruments"}, MANY_IDS[:33_000]]}},
        "INVALID_FILTER"),
    "query-in": ({"query": {"gsd": {"in": list(range(5_000))}}}, "INVALID_FILTER"),
    "sortby-50": ({"sortby": [{"field": "id", "direction": "asc"}] * 50}, "INVALID_SORTBY"),
    "fields-5000": ({"fields": {"include": MANY_IDS[:5_000]}}, "INVALID_INPUT"),
}


@pytest.mark.parametrize(("body", "code"), LONG_LISTS.values(), ids=LONG_LISTS.keys())
async def test_stac_search_refuses_long_lists(
    stac_client: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    assert_stac_error(await stac_client.post("/search", json=body), 400, code)


async def test_stac_get_search_refuses_long_lists(stac_client: httpx.AsyncClient) -> None:
    response = await stac_client.get("/search", params={"ids": ",".join(MANY_IDS[:2_000])})
    assert_stac_error(response, 400, "INVALID_INPUT")


GRAPHQL_LONG_LISTS = {
    "ids": ("query($v: [String!]) { items(ids: $v) { nodes { id } } }", MANY_IDS),
    "collections": ("query($v: [String!]) { aggregate(collections: $v) { totalCount } }",
                    MANY_IDS),
    "filter-in": ("query($v: JSON) { items(filter: $v) { nodes { id } } }", BIG_IN),
    "filter-or": ("query($v: JSON) { aggregate(filter: $v) { totalCount } }", BIG_OR),
    "where-in": ("query($v: [JSON!]) { items(where: [{property: \"gsd\", in: $v}]) "
                 "{ nodes { id } } }", list(range(33_000))),
}


@pytest.mark.parametrize(("query", "value"), GRAPHQL_LONG_LISTS.values(),
                         ids=GRAPHQL_LONG_LISTS.keys())
async def test_graphql_refuses_long_lists(gql: GraphQL, query: str, value: Any) -> None:
    errors = await graphql_errors(gql, query, v=value)
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_lists_at_the_limit_are_searched(stac_client: httpx.AsyncClient) -> None:
    body = {"ids": MANY_IDS[:MAX_LIST_ENTRIES], "filter-lang": "cql2-json",
            "filter": {"op": "in", "args": [{"property": "gsd"},
                                            list(range(MAX_LIST_ENTRIES))]}}
    response = await stac_client.post("/search", json=body)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["features"] == []


# --- deep nesting: a typed JSON error, never a plain-text 500 or a crash --------------------

DEEP_NOT = nested_predicate(300)


@pytest.mark.parametrize(("body", "code"), [
    ({"intersects": nested_collection(200)}, "INVALID_GEOMETRY"),
    ({"intersects": nested_collection(9)}, "INVALID_GEOMETRY"),
    ({"filter-lang": "cql2-json", "filter": DEEP_NOT}, "INVALID_FILTER"),
    ({"filter-lang": "cql2-json", "filter": {"op": "s_intersects", "args": [
        {"property": "geometry"}, nested_collection(20)]}}, "INVALID_GEOMETRY"),
], ids=["collection-200", "collection-9", "not-300", "filter-collection-20"])
async def test_stac_refuses_deep_nesting_as_json(
    stac_client: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    assert_stac_error(await stac_client.post("/search", json=body), 400, code)


@pytest.mark.parametrize("text", [
    "(" * 2_000 + "gsd = 1" + ")" * 2_000,
    "NOT " * 5_000 + "gsd = 1",
    "gsd = " + "-" * 5_000 + "1",
    "gsd IN (" + "(" * 3_000 + "1" + ")" * 3_000 + ")",
], ids=["parentheses-2000", "not-5000", "minus-5000", "brackets-3000"])
async def test_cql2_text_nested_past_the_parser_stack_is_refused(
    stac_client: httpx.AsyncClient, text: str
) -> None:
    response = await stac_client.get("/search", params={"filter": text})
    assert_stac_error(response, 400, "INVALID_FILTER")


async def test_a_cql2_text_filter_at_the_nesting_limit_is_searched(
    stac_client: httpx.AsyncClient,
) -> None:
    text = "(" * 12 + "gsd = 1" + ")" * 12  # MAX_TEXT_PARENTHESES
    response = await stac_client.get("/search", params={"filter": text})
    assert response.status_code == 200, response.text[:500]


@pytest.mark.parametrize(("query", "value"), [
    ("query($v: JSON) { items(filter: $v) { nodes { id } } }", DEEP_NOT),
    ("query($v: GeoJSON) { items(intersects: $v) { nodes { id } } }", nested_collection(200)),
    ("query($v: JSON) { aggregate(filter: $v) { totalCount } }", nested_list(900)),
], ids=["filter-not-300", "geojson-collection-200", "filter-list-900"])
async def test_graphql_refuses_deep_variables_with_a_code(
    gql: GraphQL, query: str, value: Any
) -> None:
    errors = await graphql_errors(gql, query, v=value)
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("body", [
    b'{"query": "{ items { nodes { id } } }", "variables": {"v": ' + b"[" * 5_000
    + b"]" * 5_000 + b"}}",
    b'{"query": "{ items { nodes { id } } }", "variables": {"v": ' + b"[" * 1_100 + b"1"
    + b"]" * 1_100 + b"}}",
    b"{not json",
], ids=["arrays-5000", "arrays-1100", "not-json"])
async def test_graphql_bodies_it_cannot_read_get_a_json_error(gql: GraphQL, body: bytes) -> None:
    response = await gql.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# --- expensive reads: refused before they scan ---------------------------------------------

@pytest.mark.parametrize("text", ["gsd = NaN", "gsd > Infinity", "gsd IN (1, nan)",
                                  "gsd = 1e999", "NaN = gsd"])
async def test_filters_on_numbers_that_are_not_finite_are_refused(
    stac_client: httpx.AsyncClient, text: str
) -> None:
    response = await stac_client.get("/search", params={"filter": text})
    assert_stac_error(response, 400, "INVALID_FILTER")


async def test_graphql_filters_on_numbers_that_are_not_finite_are_refused(gql: GraphQL) -> None:
    errors = await graphql_errors(
        gql, "query($v: JSON) { items(filter: $v) { nodes { id } } }",
        v={"op": "=", "args": [{"property": "gsd"}, {"property": "NaN"}]},
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(("params", "code"), [
    ({"aggregations": "property_histogram", "property": "gsd", "buckets": "1000"},
     "INVALID_INPUT"),
    ({"aggregations": "property_histogram", "property": "gsd", "buckets": "ten"},
     "INVALID_INPUT"),
    ({"aggregations": "geohash_frequency", "precision": "1.5"}, "INVALID_INPUT"),
], ids=["buckets-1000", "buckets-not-a-number", "precision-not-an-integer"])
async def test_aggregation_sizes_are_bounded(
    stac_client: httpx.AsyncClient, params: dict[str, str], code: str
) -> None:
    assert_stac_error(await stac_client.get("/aggregate", params=params), 400, code)


async def test_graphql_histograms_are_bounded(gql: GraphQL) -> None:
    errors = await graphql_errors(
        gql, '{ aggregate { histogram(property: "gsd", buckets: 1000) { count } } }'
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    data = await gql.data(
        f'{{ aggregate {{ histogram(property: "gsd", buckets: {MAX_BUCKETS}) {{ count }} }} }}'
    )
    assert len(data["aggregate"]["histogram"]) <= MAX_BUCKETS


# --- NUL and lone surrogates: a 4xx in our words ----------------------------------------

@pytest.mark.parametrize("path", [
    "/search?ids=a%00b", "/search?collections=a%00b", "/search?filter=title%3D%27a%00b%27",
    "/search?filter=%22a%00b%22%3D1", "/search?q=a%00b", "/collections/a%00b",
    "/collections/a%00b/items/x", "/search?sortby=a%00b",
])
async def test_nul_characters_get_a_4xx_without_driver_text(
    stac_client: httpx.AsyncClient, path: str
) -> None:
    response = await stac_client.get(path)
    assert 400 <= response.status_code < 500, response.text
    assert_stac_error(response, response.status_code, response.json()["code"])
    assert "byte sequence" not in response.text and "0x00" not in response.text


@pytest.mark.parametrize("body", [
    b'{"ids": ["a\\u0000b"]}', b'{"ids": ["\\ud800"]}',
    b'{"filter": {"op": "=", "args": [{"property": "ti\\u0000tle"}, "x"]}}',
], ids=["nul-id", "surrogate-id", "nul-property"])
async def test_nul_and_lone_surrogates_in_bodies_get_a_400(
    stac_client: httpx.AsyncClient, body: bytes
) -> None:
    response = await stac_client.post(
        "/search", content=body, headers={"content-type": "application/json"}
    )
    assert_stac_error(response, 400, "INVALID_INPUT")


@pytest.mark.parametrize(("value", "code"), [
    (b'"a\\u0000b"', "BAD_USER_INPUT"), (b'"\\ud800"', "BAD_REQUEST"),
], ids=["nul", "surrogate"])
async def test_graphql_nul_and_lone_surrogates_get_a_code(
    gql: GraphQL, value: bytes, code: str
) -> None:
    body = (b'{"query": "query($v: String!) { items(ids: [$v]) { nodes { id } } }", '
            b'"variables": {"v": ' + value + b"}}")
    response = await gql.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == code, response.text
    assert "byte sequence" not in response.text and "select" not in response.text.lower()


# --- memory: bodies are bounded by what the route needs -----------------------------------

async def test_a_search_body_past_its_bound_is_refused_before_it_is_decoded(
    stac_client: httpx.AsyncClient,
) -> None:
    numbers = b",".join([b"0.5"] * 1_500_000)  # 6 MB; decoded, some 120 MB
    for path in ("/search", "/aggregate"):
        response = await stac_client.post(
            path, content=b'{"bbox": [' + numbers + b"]}",
            headers={"content-type": "application/json"},
        )
        assert_stac_error(response, 413, "BODY_TOO_LARGE")
