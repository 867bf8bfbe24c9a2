"""Saved searches over REST: the owner's own, typed 4xx for bad input, and the Atom feed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from xml.etree import ElementTree

import httpx
import orjson
import pytest
import shapely
import shapely.geometry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import create_key
from stacql.settings import DatabaseSettings, Settings
from tests.support.app_client import app_client
from tests.support.paths import STAC_DATA
from tests.support.tokens import bearer

NAIP = STAC_DATA / "pgstac/planetary-computer/data/naip"
ATOM = "{http://www.w3.org/2005/Atom}"
AREA = [-85.95, 30.9, -85.7, 31.0]
HOOK = "https://93.184.215.14/stacql-hook"  # a public address: no DNS needed offline


async def _client(url: str, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database=DatabaseSettings(url=url))
    async with app_client(settings, {"X-API-Key": token} if token else None) as (_, client):
        yield client


async def _token(sessions: async_sessionmaker[AsyncSession], name: str, scope: str) -> str:
    async with sessions() as session, session.begin():
        _, token = await create_key(session, name, scope)
    return token


@pytest.fixture
async def keys(scratch_sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    return {
        "alice": await _token(scratch_sessions, "alice", "read"),
        "bob": await _token(scratch_sessions, "bob", "read"),
        "admin": await _token(scratch_sessions, "loader", "admin"),
    }


@pytest.fixture
async def alice(scratch_url: str, keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(scratch_url, keys["alice"]):
        yield client


@pytest.fixture
async def bob(scratch_url: str, keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(scratch_url, keys["bob"]):
        yield client


async def _saved(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/saved-searches", json={"name": "mine", "search": {}, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_owner_creates_lists_changes_and_deletes_a_saved_search(
    alice: httpx.AsyncClient,
) -> None:
    created = await _saved(alice, search={"bbox": AREA}, webhook_url=HOOK)
    assert created["webhook"]["url"] == HOOK and created["webhook"]["secret"].startswith("whsec_")
    listed = (await alice.get("/saved-searches")).json()["saved_searches"]
    assert [s["id"] for s in listed] == [created["id"]]
    path = f"/saved-searches/{created['id']}"
    changed = await alice.patch(path, json={"name": "renamed", "webhook_url": None})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["webhook"]) == ("renamed", None)
    assert changed.json()["search"] == {"bbox": AREA}
    assert (await alice.delete(path)).status_code == 204
    assert (await alice.get(path)).status_code == 404


async def test_another_key_can_neither_see_nor_change_a_saved_search(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    path = f"/saved-searches/{(await _saved(alice))['id']}"
    responses = [
        await bob.get(path), await bob.patch(path, json={"name": "mine now"}),
        await bob.delete(path), await bob.get(f"{path}/deliveries"), await bob.get(f"{path}/feed"),
    ]
    assert [(r.status_code, r.json()["code"]) for r in responses] == [
        (404, "SAVED_SEARCH_NOT_FOUND")
    ] * 5
    assert (await bob.get("/saved-searches")).json()["saved_searches"] == []
    assert (await alice.get(path)).json()["name"] == "mine"


async def test_saved_searches_need_credentials(scratch_url: str, scratch_sessions: Any) -> None:
    async for anonymous in _client(scratch_url, None):
        response = await anonymous.post("/saved-searches", json={"name": "x", "search": {}})
        assert (response.status_code, response.json()["code"]) == (401, "UNAUTHORIZED")


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"search": {"filter": {"op": "nope", "args": []}}}, 400, "INVALID_FILTER"),
    ({"search": {"bbox": [1, 2, 3]}}, 400, "INVALID_BBOX"),
    ({"search": {"limit": 5}}, 400, "INVALID_SAVED_SEARCH"),
    ({"search": []}, 400, "INVALID_SAVED_SEARCH"),
    ({"name": " "}, 400, "INVALID_SAVED_SEARCH"),
    ({"webhook_url": "ftp://example.com/hook"}, 400, "INVALID_SAVED_SEARCH"),
    ({"webhook_url": "not a url"}, 400, "INVALID_SAVED_SEARCH"),
    ({"webhook_url": "http://127.0.0.1:9/hook"}, 403, "WEBHOOK_NOT_ALLOWED"),
    ({"webhook_url": "http://10.1.2.3/hook"}, 403, "WEBHOOK_NOT_ALLOWED"),
    ({"webhook_url": "http://[::1]/hook"}, 403, "WEBHOOK_NOT_ALLOWED"),
    ({"webhook_url": "http://localhost/hook"}, 403, "WEBHOOK_NOT_ALLOWED"),
    ({"owner": "bob"}, 400, "INVALID_SAVED_SEARCH"),
])
async def test_bad_saved_searches_are_refused_with_a_typed_error(
    alice: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    response = await alice.post("/saved-searches", json={"name": "x", "search": {}, **body})
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (await alice.get("/saved-searches")).json()["saved_searches"] == []


async def test_an_unknown_or_malformed_id_is_not_found(alice: httpx.AsyncClient) -> None:
    for search_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = await alice.get(f"/saved-searches/{search_id}")
        assert (response.status_code, response.json()["code"]) == (404, "SAVED_SEARCH_NOT_FOUND")


async def test_the_feed_lists_the_latest_matching_items_as_atom(
    alice: httpx.AsyncClient, scratch_url: str, keys: dict[str, str]
) -> None:
    docs = [orjson.loads(line) for line in (NAIP / "items.ndjson").read_bytes().splitlines()[:30]]
    async for admin in _client(scratch_url, keys["admin"]):
        collection = orjson.loads((NAIP / "collection.json").read_bytes())
        assert (await admin.post("/collections", json=collection)).status_code == 201
        for doc in docs:
            response = await admin.post("/collections/naip/items", json=doc)
            assert response.status_code == 201, response.text
    saved = await _saved(alice, search={"bbox": AREA})
    response = await alice.get(f"/saved-searches/{saved['id']}/feed")
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    links = [e.find(f"{ATOM}link").get("href") for e in entries]
    expected = {
        d["id"] for d in docs
        if shapely.geometry.shape(d["geometry"]).intersects(shapely.box(*AREA))
    }
    assert 0 < len(expected) < len(docs)
    assert {link.rsplit("/", 1)[1] for link in links} == expected
    updated = [e.find(f"{ATOM}updated").text for e in entries]
    assert updated == sorted(updated, reverse=True)
    assert feed.find(f"{ATOM}title").text == "mine"


async def test_bearer_tokens_own_saved_searches_by_subject(
    scratch_url: str, scratch_sessions: Any, signer: tuple[Any, Any]
) -> None:
    settings = Settings(database=DatabaseSettings(url=scratch_url))
    settings.auth.jwks = str(signer[1])
    erin = {"Authorization": bearer(signer[0], "stacql:read", sub="erin")}
    frank = {"Authorization": bearer(signer[0], "stacql:read", sub="frank")}
    erin_again = {"Authorization": bearer(signer[0], "stacql:read", sub="erin")}
    async with app_client(settings) as (_, client):
        created = await client.post(
            "/saved-searches", json={"name": "e", "search": {}}, headers=erin
        )
        path = f"/saved-searches/{created.json()['id']}"
        assert (await client.get(path, headers=frank)).status_code == 404
        assert (await client.get(path, headers=erin_again)).json()["name"] == "e"
