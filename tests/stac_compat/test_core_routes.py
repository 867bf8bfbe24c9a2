"""STAC API core, features and item-search routes over HTTP, against the real catalog."""

from __future__ import annotations

import httpx
import orjson
import pytest

from catalog.search import build_search, search
from stacql.app import create_app
from stacql.settings import ApiSettings, DatabaseSettings, Settings
from tests.support.app_client import app_client
from tests.support.paths import STAC_DATA

NAIP_ITEMS = STAC_DATA / "pgstac/planetary-computer/data/naip/items.ndjson"
INTERSECTS = orjson.loads((STAC_DATA / "stac-server/stac/intersectsGeometry.json").read_bytes())


async def _all_ids(loaded_sessions, **params) -> list[str]:
    ids: list[str] = []
    token = None
    async with loaded_sessions() as session:
        while True:
            page = await search(session, build_search(limit=500, token=token, **params))
            ids += [item["id"] for item in page.items]
            if not (token := page.next_token):
                return ids


async def test_landing_page_links_to_the_api_and_conforms_to_item_search(stac_client) -> None:
    body = (await stac_client.get("/")).json()
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "root", "conformance", "data", "search", "service-desc"} <= rels
    assert "https://api.stacspec.org/v1.0.0/item-search" in body["conformsTo"]


async def test_collections_lists_every_loaded_collection_with_absolute_links(
    stac_client, loaded_sessions
) -> None:
    body = (await stac_client.get("/collections?limit=1000")).json()
    ids = {c["id"] for c in body["collections"]}
    naip = next(c for c in body["collections"] if c["id"] == "naip")
    self_link = next(link for link in naip["links"] if link["rel"] == "self")
    assert {"naip", "joplin", "planet-disaster-data", "landsat-8-l1"} <= ids
    assert self_link["href"] == "http://stacql.test/collections/naip"


async def test_item_is_served_as_geojson_with_the_loaded_content(stac_client) -> None:
    original = orjson.loads(NAIP_ITEMS.read_bytes().splitlines()[3])
    response = await stac_client.get(f"/collections/naip/items/{original['id']}")
    body = response.json()
    assert response.headers["content-type"].startswith("application/geo+json")
    assert {k: v for k, v in body.items() if k != "links"} == {
        k: v for k, v in original.items() if k != "links"
    }
    assert any(link["rel"] == "collection" for link in body["links"])


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/collections/nope", 404, "UNKNOWN_COLLECTION"),
        ("/collections/naip/items/nope", 404, "ITEM_NOT_FOUND"),
        ("/collections/nope/items", 404, "UNKNOWN_COLLECTION"),
        ("/search?bbox=0,10,1,5", 400, "INVALID_BBOX"),
        ("/search?datetime=yesterday", 400, None),
        ("/search?token=garbage", 400, "INVALID_CURSOR"),
        ("/search?limit=0", 400, None),
        ("/no/such/route", 404, "NOT_FOUND"),
    ],
)
async def test_bad_requests_get_a_stac_error_body(stac_client, path, status, code) -> None:
    response = await stac_client.get(path)
    body = response.json()
    assert response.status_code == status
    assert set(body) == {"code", "description"} and body["description"]
    assert code is None or body["code"] == code


async def test_get_search_pages_to_the_end_as_the_engine_orders(
    stac_client, loaded_sessions
) -> None:
    expected = await _all_ids(loaded_sessions, bbox=[-86.5, 30.0, -85.0, 31.5])
    seen, url = [], "/search?bbox=-86.5,30.0,-85.0,31.5&limit=37"
    while url:
        body = (await stac_client.get(url)).json()
        seen += [f["id"] for f in body["features"]]
        url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
    assert seen == expected and len(expected) > 37


async def test_post_search_with_intersects_returns_the_engine_ids(
    stac_client, loaded_sessions
) -> None:
    expected = await _all_ids(loaded_sessions, intersects=INTERSECTS)
    query = {"intersects": INTERSECTS, "limit": 1000}
    body = (await stac_client.post("/search", json=query)).json()
    assert [f["id"] for f in body["features"]] == expected
    assert body["numberReturned"] == len(expected)


async def test_post_search_next_link_carries_the_body_with_a_token(stac_client) -> None:
    query = {"collections": ["naip"], "datetime": "2015-01-01T00:00:00Z/..", "limit": 5}
    first = (await stac_client.post("/search", json=query)).json()
    link = next(lk for lk in first["links"] if lk["rel"] == "next")
    second = (await stac_client.post("/search", json=link["body"])).json()
    assert link["method"] == "POST" and link["body"]["collections"] == ["naip"]
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}


async def test_items_of_a_collection_are_only_that_collection(stac_client) -> None:
    body = (await stac_client.get("/collections/joplin/items?limit=100")).json()
    assert len(body["features"]) == 30
    assert {f["collection"] for f in body["features"]} == {"joplin"}


@pytest.mark.parametrize(
    "headers",
    [
        {"Forwarded": "proto=https;host=maps.example.com"},
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "maps.example.com"},
    ],
)
async def test_links_follow_trusted_forwarded_host_and_scheme(
    catalog_url, loaded_sessions, stac_client, headers
) -> None:
    trusted = Settings(database=DatabaseSettings(url=catalog_url),
                       api=ApiSettings(trust_forwarded=True))
    async with app_client(trusted) as (_, client):
        body = (await client.get("/collections/naip", headers=headers)).json()
    untrusted = (await stac_client.get("/collections/naip", headers=headers)).json()
    self_link = next(link for link in body["links"] if link["rel"] == "self")
    assert self_link["href"] == "https://maps.example.com/collections/naip"
    # Without trust, a client cannot make the API write links to a host of its choosing.
    self_link = next(link for link in untrusted["links"] if link["rel"] == "self")
    assert self_link["href"] == "http://stacql.test/collections/naip"


async def test_links_and_hrefs_follow_the_public_url(catalog_url, loaded_sessions) -> None:
    public = Settings(database=DatabaseSettings(url=catalog_url),
                      api=ApiSettings(public_url="https://catalog.example.org/stac/"))
    async with app_client(public) as (_, client):
        body = (await client.get("/search?collections=joplin&limit=2",
                                 headers={"X-Forwarded-Host": "evil.example"})).json()
        landing = (await client.get("/")).json()
    hrefs = [link["href"] for link in body["links"] + body["features"][0]["links"]]
    hrefs += [link["href"] for link in landing["links"]]
    assert all(h.startswith("https://catalog.example.org/stac/") for h in hrefs), hrefs


async def test_links_carry_the_root_path_behind_a_proxy(catalog_url, loaded_sessions) -> None:
    app = create_app(Settings(database=DatabaseSettings(url=catalog_url)))
    transport = httpx.ASGITransport(app=app, root_path="/stac/v1")
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy.test") as client:
        body = (await client.get("/stac/v1/search?collections=joplin&limit=2")).json()
    hrefs = [link["href"] for link in body["links"] + body["features"][0]["links"]]
    assert all(h.startswith("http://proxy.test/stac/v1/") for h in hrefs), hrefs


async def test_landing_page_links_the_browser_and_graphql(stac_client) -> None:
    links = {link["title"]: link for link in (await stac_client.get("/")).json()["links"]
             if link.get("title") in ("Catalog browser", "GraphQL API")}
    assert links["Catalog browser"]["href"] == "http://stacql.test/browse/"
    graphql = await stac_client.post(links["GraphQL API"]["href"],
                                     json={"query": "{ __typename }"})
    assert graphql.json() == {"data": {"__typename": "Query"}}
    browser = await stac_client.get(links["Catalog browser"]["href"])
    assert browser.headers["content-type"].startswith("text/html")
