"""Plain searches (``stac_compat.plain_search``) answer as the routes do.

Two apps on the same loaded catalog, one answering plain searches itself and one with
``plain_searches`` off (every request through FastAPI's routes and stac-fastapi's request
models), get the same requests: valid ones, ones each layer refuses, and the pages their
``next`` links lead to. Status, media type and body must be the same. The middleware's
count of the requests it answered tells which path each request took.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from stac_compat.plain_search import PlainSearches
from stacql.settings import ApiSettings, DatabaseSettings, Settings
from tests.support.app_client import app_client

Case = tuple[str, str, Any, bool | None]
"""(method, path and query, JSON body or None, answered by the plain path: True, False,
or None where either is right)."""


@pytest.fixture(scope="module")
async def clients(
    catalog_url: str, loaded_sessions: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI]]:
    """(plain, routed, the plain client's app) over the loaded catalog."""
    database = DatabaseSettings(url=catalog_url)
    async with (
        app_client(Settings(database=database)) as (app, plain),
        app_client(Settings(database=database, api=ApiSettings(plain_searches=False)))
        as (_, routed),
    ):
        yield plain, routed, app


def _middleware(app: FastAPI) -> PlainSearches:
    """The PlainSearches instance of the STAC sub-application (built on first request)."""
    stac = next(r.app for r in app.routes if isinstance(r, Mount) and r.path == "")
    layer: Any = stac.middleware_stack
    while not isinstance(layer, PlainSearches):
        layer = layer.app
    return layer


async def _send(client: httpx.AsyncClient, method: str, target: str, body: Any) -> httpx.Response:
    if method == "POST":
        return await client.post(target, json=body)
    return await client.get(target)


def _answer(response: httpx.Response) -> tuple[int, str | None, Any]:
    body = response.json() if response.content else None
    return (response.status_code, response.headers.get("content-type"), body)


async def _same(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI], case: Case
) -> dict[str, Any]:
    """Send ``case`` to both apps; check the answers are equal and the path it took."""
    plain, routed, app = clients
    method, target, body, expected = case
    before = _middleware(app).answered if app.middleware_stack else 0
    got = await _send(plain, method, target, body)
    answered = _middleware(app).answered - before
    want = await _send(routed, method, target, body)
    assert _answer(got) == _answer(want), case
    assert got.status_code < 500, (case, got.text)
    if expected is not None:
        assert answered == int(expected), (case, got.status_code, got.text)
    return got.json() if got.content else {}


@pytest.fixture(scope="module")
async def collection(clients: tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI]) -> str:
    """The id of a loaded collection holding several items."""
    plain = clients[0]
    for listed in (await plain.get("/collections?limit=100")).json()["collections"]:
        page = (await plain.get(f"/collections/{listed['id']}/items?limit=3")).json()
        if len(page["features"]) == 3:
            return str(listed["id"])
    raise AssertionError("no loaded collection with 3 items")


def _item_cases(c: str) -> list[Case]:
    items = f"/collections/{c}/items"
    return [
        ("GET", items, None, True),
        ("GET", f"{items}?limit=2", None, True),
        ("GET", f"{items}?limit=20000", None, True),
        ("GET", f"{items}?limit=010", None, False),
        ("GET", f"{items}?limit=0", None, False),
        ("GET", f"{items}?limit=-1", None, False),
        ("GET", f"{items}?limit=ten", None, False),
        ("GET", f"{items}?limit=", None, False),
        ("GET", f"{items}?limit=1&limit=2", None, False),
        ("GET", f"{items}?bbox=-180,-90,180,90&limit=2", None, True),
        ("GET", f"{items}?bbox=-180,-90,0,180,90,100", None, True),
        ("GET", f"{items}?bbox=0,10,1,5", None, True),
        ("GET", f"{items}?bbox=-200,0,0,1", None, True),
        ("GET", f"{items}?bbox=a,b,c,d", None, False),
        ("GET", f"{items}?bbox=1,2,3", None, False),
        ("GET", f"{items}?datetime=2000-01-01T00:00:00Z/..&limit=2", None, True),
        ("GET", f"{items}?datetime=../2100-01-01T00:00:00Z", None, True),
        ("GET", f"{items}?datetime=2030-01-01T00:00:00Z", None, True),
        ("GET", f"{items}?datetime=yesterday", None, False),
        ("GET", f"{items}?datetime=2021-01-01T00:00:00Z/2020-01-01T00:00:00Z", None, False),
        ("GET", f"{items}?token=not-a-token", None, True),
        ("GET", f"{items}?sortby=-datetime&limit=2", None, False),
        ("GET", f"{items}?filter=id%3D%27x%27", None, False),
        ("GET", f"{items}?colour=red", None, False),
        ("GET", "/collections/no-such-collection/items", None, True),
        ("GET", "/collections/no-such-collection/items?limit=ten", None, False),
        ("GET", f"{items}/", None, False),
    ]


def _search_get_cases(c: str) -> list[Case]:
    return [
        ("GET", "/search", None, True),
        ("GET", f"/search?collections={c}&limit=2", None, True),
        ("GET", f"/search?collections={c},no-such-collection", None, True),
        ("GET", "/search?ids=a,b", None, True),
        ("GET", f"/search?collections={c}&bbox=-180,-90,180,90&datetime=2000-01-01T00:00:00Z/..",
         None, True),
        ("GET", "/search?collections=", None, False),
        ("GET", "/search?limit=1e3", None, False),
        ("GET", "/search?intersects=%7B%22type%22%3A%22Point%22%7D", None, False),
        ("GET", "/search?q=naip", None, False),
        ("GET", "/search?token=garbage", None, True),
    ]


_SQUARE = {"type": "Polygon",
           "coordinates": [[[-180, -60], [180, -60], [180, 80], [-180, 80], [-180, -60]]]}


def _search_post_cases(c: str) -> list[Case]:
    filter_ = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 50]}
    return [
        ("POST", "/search", {}, True),
        ("POST", "/search", {"collections": [c], "limit": 2}, True),
        ("POST", "/search", {"limit": "3"}, True),
        ("POST", "/search", {"limit": 20000}, True),
        ("POST", "/search", {"limit": 0}, False),
        ("POST", "/search", {"limit": True}, None),
        ("POST", "/search", {"ids": ["a", "b"]}, True),
        ("POST", "/search", {"collections": c}, False),
        ("POST", "/search", {"collections": [1]}, False),
        ("POST", "/search", {"bbox": [-180, -90, 180, 90], "limit": 2}, True),
        ("POST", "/search", {"bbox": [1, 2, 3]}, False),
        ("POST", "/search", {"bbox": [0, 10, 1, 5]}, False),
        ("POST", "/search", {"bbox": [0, 0, 1, 1], "intersects": _SQUARE}, False),
        ("POST", "/search", {"intersects": _SQUARE, "limit": 2}, True),
        ("POST", "/search", {"intersects": {"type": "Point", "coordinates": [0, 0, 0, 0, 0]}},
         False),
        ("POST", "/search", {"intersects": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}},
         False),
        ("POST", "/search", {"intersects": {"type": "Tesseract", "coordinates": []}}, False),
        ("POST", "/search", {"datetime": "2000-01-01T00:00:00Z/..", "limit": 2}, True),
        ("POST", "/search", {"datetime": "soon"}, False),
        ("POST", "/search", {"filter": filter_, "filter-lang": "cql2-json", "limit": 2}, True),
        ("POST", "/search", {"filter": filter_}, True),
        ("POST", "/search", {"filter": {"op": "no-such-op", "args": []}}, True),
        ("POST", "/search", {"filter": "eo:cloud_cover < 10", "filter-lang": "cql2-text"}, None),
        ("POST", "/search", {"sortby": [{"field": "properties.datetime", "direction": "desc"}],
                             "limit": 2}, True),
        ("POST", "/search", {"sortby": [{"field": "properties.no_such", "direction": "asc"}]},
         True),
        ("POST", "/search", {"sortby": [{"field": "id", "direction": "sideways"}]}, False),
        ("POST", "/search", {"token": "garbage"}, True),
        ("POST", "/search", {"fields": {"include": ["id"]}, "limit": 2}, True),
        ("POST", "/search", {"q": "naip"}, False),
        ("POST", "/search", {"q": ["naip"]}, True),
        ("POST", "/search", {"query": {"eo:cloud_cover": {"lt": 50}}, "limit": 2}, True),
        ("POST", "/search", {"count": True, "limit": 1}, True),
        ("POST", "/search", {"colour": "red"}, True),
        ("POST", "/search", [], False),
        ("POST", "/search", "search", False),
    ]


async def test_plain_searches_answer_as_the_routes(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI], collection: str
) -> None:
    cases = [
        *_item_cases(collection), *_search_get_cases(collection),
        *_search_post_cases(collection),
    ]
    for case in cases:
        await _same(clients, case)
    answered = sum(1 for case in cases if case[3])
    assert answered >= 30  # most of the cases take the plain path


async def test_next_links_lead_to_the_same_pages(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI], collection: str
) -> None:
    """Pages of 1 item, followed to the end (GET and POST paging), both ways."""
    starts: list[Case] = [
        ("GET", f"/collections/{collection}/items?limit=1", None, True),
        ("GET", f"/search?collections={collection}&limit=1", None, True),
        ("POST", "/search", {"collections": [collection], "limit": 1}, True),
        ("POST", "/search", {"collections": [collection], "limit": 1,
                             "sortby": [{"field": "id", "direction": "desc"}]}, True),
    ]
    for start in starts:
        case, seen = start, []
        while True:
            page = await _same(clients, case)
            seen += [feature["id"] for feature in page["features"]]
            link = next((x for x in page["links"] if x["rel"] == "next"), None)
            if link is None:
                break
            parts = urlsplit(link["href"])
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            case = (link.get("method", "GET"), target, link.get("body"), True)
        assert len(seen) >= 3 and len(seen) == len(set(seen)), start
