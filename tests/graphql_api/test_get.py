"""Queries over HTTP GET, cacheable by CDNs and browsers when nothing in them is private
(``graphql_api.http_cache``), and mutations refused over GET."""

from __future__ import annotations

import json

import httpx

from graphql_api.http_cache import etag_of
from stacql.settings import GraphQLSettings
from tests.graphql_api.conftest import GraphQL
from tests.graphql_api.test_mutations import a_collection

PAGE = "query($n: Int) { items(first: $n) { nodes { id collection { id } } } }"
COLLECTIONS = "{ collections(first: 100) { nodes { id } } }"
CREATE = """mutation($stac: JSON, $private: Boolean!) {
  createCollection(stac: $stac, private: $private) { id } }"""


def anonymous(gql: GraphQL) -> httpx.AsyncClient:
    """A client on the same app sending no credentials."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gql.app),
                             base_url="http://stacql.test")


async def test_anonymous_get_reads_are_public_and_revalidate_to_304(gql: GraphQL) -> None:
    params = {"query": PAGE, "variables": json.dumps({"n": 3})}
    response = await gql.client.get("/graphql", params=params)
    posted = await gql.client.post("/graphql", json={"query": PAGE, "variables": {"n": 3}})
    assert response.status_code == 200
    assert response.json() == posted.json()
    max_age = GraphQLSettings().get_max_age_seconds
    assert response.headers["cache-control"] == f"public, max-age={max_age}"
    assert {"authorization", "x-api-key"} <= {
        v.strip().lower() for v in response.headers["vary"].split(",")}
    assert response.headers["etag"] == etag_of(response.content)
    assert "cache-control" not in posted.headers

    again = await gql.client.get(
        "/graphql", params=params, headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == response.headers["etag"]
    assert again.headers["cache-control"] == response.headers["cache-control"]
    other = await gql.client.get(
        "/graphql", params={**params, "variables": json.dumps({"n": 4})},
        headers={"if-none-match": response.headers["etag"]})
    assert other.status_code == 200
    assert len(other.json()["data"]["items"]["nodes"]) == 4


async def test_get_answers_to_callers_with_credentials_are_never_shared(
    scratch_gql: GraphQL,
) -> None:
    made = await scratch_gql.post(CREATE, stac=a_collection("hidden"), private=True)
    assert "errors" not in made, made
    seen = await scratch_gql.client.get("/graphql", params={"query": COLLECTIONS})
    assert [n["id"] for n in seen.json()["data"]["collections"]["nodes"]] == ["hidden"]
    assert seen.headers["cache-control"] == "private, no-store"
    assert "etag" not in seen.headers
    async with anonymous(scratch_gql) as client:
        public = await client.get("/graphql", params={"query": COLLECTIONS})
    assert public.json()["data"]["collections"]["nodes"] == []
    assert public.headers["cache-control"].startswith("public")


async def test_mutations_over_get_are_refused_with_405(scratch_gql: GraphQL) -> None:
    params = {"query": CREATE, "variables": json.dumps(
        {"stac": a_collection("by-get"), "private": False})}
    response = await scratch_gql.client.get("/graphql", params=params)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["cache-control"] == "no-store"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert "mutations" in error["message"]
    data = await scratch_gql.data(COLLECTIONS)
    assert data["collections"]["nodes"] == []


async def test_get_answers_with_errors_are_not_stored(gql: GraphQL) -> None:
    invalid = await gql.client.get("/graphql", params={"query": "{ items { nodes { nope } } }"})
    assert invalid.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert invalid.headers["cache-control"] == "no-store"
    assert "etag" not in invalid.headers
    bad_json = await gql.client.get("/graphql", params={"query": PAGE, "variables": "{"})
    assert bad_json.status_code == 400
    assert bad_json.headers["cache-control"] == "no-store"
    assert bad_json.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_get_without_a_query_asks_for_one_unless_it_is_a_browser(gql: GraphQL) -> None:
    response = await gql.client.get("/graphql", headers={"accept": "*/*"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
