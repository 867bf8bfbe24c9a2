"""Requests as third-party STAC clients send them (issue 18): CQL2 text in POST bodies,
one-argument and/or, v1.0.0 conformance URIs, our API links on ingested collections, and
the same answer from GET and POST on every route that has both."""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from catalog.search import build_search, count_matches, search
from stac_compat.client import V1_0_0
from stacql.app import create_app
from stacql.settings import DatabaseSettings, Settings

TEXT = "gsd < 1 AND \"naip:state\" = 'al'"
TEXT_AS_JSON = {"op": "and", "args": [
    {"op": "<", "args": [{"property": "gsd"}, 1]},
    {"op": "=", "args": [{"property": "naip:state"}, "al"]},
]}
LT_ONE = {"op": "<", "args": [{"property": "gsd"}, 1]}


async def _engine_ids(loaded_sessions, **params: Any) -> list[str]:
    async with loaded_sessions() as session:
        page = await search(session, build_search(limit=1000, **params))
    return [item["id"] for item in page.items]


def _ids(body: dict[str, Any]) -> list[str]:
    return [feature["id"] for feature in body["features"]]


@pytest.mark.parametrize(
    "body",
    [
        {"filter-lang": "cql2-text", "filter": TEXT},
        {"filter": TEXT},
        {"filter-lang": "cql2-json", "filter": orjson.dumps(TEXT_AS_JSON).decode()},
        {"filter-lang": "cql2-json", "filter": TEXT_AS_JSON},
    ],
    ids=["text", "text-without-lang", "json-as-text", "json"],
)
async def test_post_search_takes_cql2_text_and_json(stac_client, loaded_sessions, body) -> None:
    response = await stac_client.post("/search", json={**body, "limit": 1000})
    expected = await _engine_ids(loaded_sessions, filter=TEXT)
    assert response.status_code == 200, response.text
    assert _ids(response.json()) == expected and expected


@pytest.mark.parametrize(
    "query",
    [
        f"filter-lang=cql2-text&filter={quote(TEXT)}",
        f"filter-lang=cql2-json&filter={quote(orjson.dumps(TEXT_AS_JSON).decode())}",
    ],
    ids=["text", "json"],
)
async def test_item_list_takes_cql2_text_and_json(stac_client, loaded_sessions, query) -> None:
    response = await stac_client.get(f"/collections/naip/items?limit=1000&{query}")
    expected = await _engine_ids(loaded_sessions, collections=["naip"], filter=TEXT)
    assert response.status_code == 200, response.text
    assert _ids(response.json()) == expected and expected


async def test_post_search_with_an_unknown_filter_lang_is_a_bad_request(stac_client) -> None:
    response = await stac_client.post("/search", json={"filter-lang": "sql", "filter": TEXT})
    assert response.status_code == 400 and response.json()["code"] == "INVALID_INPUT"


@pytest.mark.parametrize("logical", ["and", "or"])
async def test_one_argument_and_or_is_its_argument(stac_client, loaded_sessions, logical) -> None:
    body = {"filter-lang": "cql2-json", "filter": {"op": logical, "args": [LT_ONE]}, "limit": 1000}
    response = await stac_client.post("/search", json=body)
    expected = await _engine_ids(loaded_sessions, filter=LT_ONE)
    assert response.status_code == 200, response.text
    assert _ids(response.json()) == expected and expected


async def test_v1_0_0_conformance_beside_every_v1_1_0_class_that_has_one(stac_client) -> None:
    conforms = set((await stac_client.get("/conformance")).json()["conformsTo"])
    landing = set((await stac_client.get("/")).json()["conformsTo"])
    assert "https://api.stacspec.org/v1.0.0/item-search#sort" in conforms
    assert "https://api.stacspec.org/v1.0.0/ogcapi-features#sort" in conforms
    paired = {uri for uri in conforms if uri in V1_0_0}
    assert paired and {V1_0_0[uri] for uri in paired} <= conforms
    assert landing == conforms


async def test_ingested_collection_links_to_our_api_not_the_source(stac_client) -> None:
    """naip was loaded from the Planetary Computer's API, queryables link and all."""
    for path in ("/collections/naip", "/collections?limit=1000"):
        body = (await stac_client.get(path)).json()
        naip = body if "id" in body else next(c for c in body["collections"] if c["id"] == "naip")
        by_rel: dict[str, list[str]] = {}
        for link in naip["links"]:
            by_rel.setdefault(link["rel"], []).append(link["href"])
        queryables = by_rel["http://www.opengis.net/def/rel/ogc/1.0/queryables"]
        assert queryables == ["http://stacql.test/collections/naip/queryables"]
        assert by_rel["aggregate"] == ["http://stacql.test/collections/naip/aggregate"]
        assert by_rel["license"] and by_rel["describedby"]  # its other links stay
    response = await stac_client.get(queryables[0])
    assert response.status_code == 200 and "gsd" in response.json()["properties"]


# Every route answering both GET and POST the same way (one name for both), with
# equivalent parameters for each method: (query string, body).
BOTH_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "/search": (
        f"collections=naip&limit=7&filter={quote(TEXT)}",
        {"collections": ["naip"], "limit": 7, "filter-lang": "cql2-text", "filter": TEXT},
    ),
    "/aggregate": (
        "aggregations=total_count,collection_frequency&collections=naip,joplin"
        f"&filter={quote('gsd < 1 OR collection = ' + repr('joplin'))}",
        {
            "aggregations": ["total_count", "collection_frequency"],
            "collections": ["naip", "joplin"],
            "filter-lang": "cql2-text", "filter": "gsd < 1 OR collection = 'joplin'",
        },
    ),
    "/collections/{collection_id}/aggregate": (
        "aggregations=total_count,datetime_frequency&datetime_interval=year",
        {"aggregations": ["total_count", "datetime_frequency"], "datetime_interval": "year"},
    ),
    "/aggregations": ("", {}),
    "/collections/{collection_id}/aggregations": ("", {}),
}


def _read_routes_with_both_methods() -> set[str]:
    """Paths of the OpenAPI document whose GET and POST are one operation (the same
    summary; not the Transactions' POST beside a read's GET)."""
    settings = Settings(database=DatabaseSettings(url="postgresql+asyncpg://unused/unused"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stac-fastapi's duplicate operation ids
        paths = create_app(settings).openapi()["paths"]
    return {
        path for path, operations in paths.items()
        if {"get", "post"} <= set(operations)
        and operations["get"]["summary"] == operations["post"]["summary"]
    }


def test_every_route_with_get_and_post_is_tested_with_both() -> None:
    assert _read_routes_with_both_methods() == set(BOTH_METHODS)


@pytest.mark.parametrize("path", BOTH_METHODS)
async def test_get_and_post_give_the_same_answer(stac_client, path) -> None:
    query, body = BOTH_METHODS[path]
    url = path.format(collection_id="naip")
    got = await stac_client.get(f"{url}?{query}")
    posted = await stac_client.post(url, json=body)
    assert got.status_code == posted.status_code == 200, (got.text, posted.text)
    got_body, posted_body = got.json(), posted.json()
    for answer in (got_body, posted_body):
        answer.pop("links")
    assert got_body == posted_body
    assert got_body.get("features") or got_body.get("aggregations")


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_collection_aggregate_counts_that_collection(
    stac_client, loaded_sessions, method
) -> None:
    response = await stac_client.request(
        method, "/collections/joplin/aggregate",
        params={"aggregations": "total_count"} if method == "GET" else None,
        json={"aggregations": ["total_count"]} if method == "POST" else None,
    )
    async with loaded_sessions() as session:
        expected = await count_matches(session, build_search(collections=["joplin"]))
    assert response.json()["aggregations"] == [
        {"name": "total_count", "data_type": "integer", "value": expected}
    ]


async def test_post_aggregate_with_any_valid_body(stac_client, loaded_sessions) -> None:
    async with loaded_sessions() as session:
        everything = await count_matches(session, build_search())
    for body in ({"aggregations": ["total_count"]}, {}, {"aggregations": ["total_count"],
                                                        "limit": 5, "collections": []}):
        response = await stac_client.post("/aggregate", json=body)
        assert response.status_code == 200, (body, response.text)
    totals = (await stac_client.post("/aggregate", json={"aggregations": ["total_count"]})).json()
    assert totals["aggregations"][0]["value"] == everything


async def test_post_aggregate_with_a_bad_knob_is_a_bad_request(stac_client) -> None:
    body = {"aggregations": ["property_histogram"], "property": "gsd", "buckets": "many"}
    response = await stac_client.post("/aggregate", json=body)
    assert response.status_code == 400 and "buckets" in response.json()["description"]
