"""pystac-client against a running ``stacql serve``: the same items as ``catalog.search``.

Each search goes through ``Client.open(url).search(...)``, which follows the server's
``next`` links to the end (or to ``max_items``). The parameters pystac-client actually
sends (``ItemSearch.get_parameters()``: "2011" already expanded to an interval, bboxes
and geometries as sent) are handed to ``catalog.search`` and paged through with tokens;
both must give the same (collection, id) keys in the same order. Sort and filter are left
out until the API advertises them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pystac_client import Client
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.search import build_search, search
from catalog.search.lookup import list_collections
from tests.support.areas import JOPLIN_AOI, NAIP_AREAS

Key = tuple[str, str]
MAX_PAGES = 1_000

NAIP_ROAD = {"type": "LineString", "coordinates": [[-88.0, 30.2], [-85.3, 31.0]]}


@dataclass(frozen=True)
class Case:
    """One pystac-client search: its keyword arguments to ``Client.search``."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    method: str = "POST"
    limit: int | None = None
    max_items: int | None = None
    finds_nothing: bool = False


CASES = [
    Case("all-items-pages-of-100", limit=100),
    Case("all-items-get-pages-of-250", method="GET", limit=250),
    Case("bbox-joplin", {"bbox": [-94.6911621, 37.0332547, -94.6552734, 37.0608064]}),
    Case("bbox-get-naip", {"bbox": [-87.9, 30.5, -87.6, 30.8]}, method="GET", limit=20),
    Case("bbox-3d", {"bbox": [-88.0, 30.2, -100.0, -87.0, 31.0, 100.0]}, limit=50),
    Case("bbox-across-antimeridian", {"bbox": [170.0, -60.0, -170.0, 60.0]}),
    Case("bbox-nothing-there", {"bbox": [-30.0, -30.0, -29.0, -29.0]}, finds_nothing=True),
    Case("intersects-joplin-polygon", {"intersects": JOPLIN_AOI}),
    Case("intersects-get-joplin-polygon", {"intersects": JOPLIN_AOI}, method="GET"),
    Case("intersects-point", {"intersects": {"type": "Point", "coordinates": [-94.67, 37.05]}}),
    Case("intersects-multipolygon", {"intersects": NAIP_AREAS}, limit=25),
    Case("intersects-linestring", {"intersects": NAIP_ROAD}, limit=40),
    Case("datetime-instant", {"datetime": "2000-02-02T00:00:00Z"}),
    Case("datetime-closed-interval", {"datetime": "2015-01-01T00:00:00Z/2017-12-31T23:59:59Z"}),
    Case("datetime-open-start", {"datetime": "../2001-01-01T00:00:00Z"}),
    Case("datetime-open-end", {"datetime": "2020-06-01T00:00:00Z/.."}, limit=30),
    Case("datetime-year", {"datetime": "2017"}),
    Case("datetime-month-get", {"datetime": "2011-08"}, method="GET", limit=30),
    Case("datetime-day-range", {"datetime": "2021-01-01/2021-01-07"}),
    Case(
        "datetime-python-pair",
        {"datetime": (datetime(2016, 5, 1, tzinfo=UTC), datetime(2016, 5, 31, tzinfo=UTC))},
    ),
    Case("collections-one", {"collections": ["joplin"]}, limit=7),
    Case("collections-several", {"collections": ["landsat-8-l1", "test-collection", "CS3"]}),
    Case("collections-case-differs", {"collections": ["cs3"]}),
    Case(
        "ids",
        {"ids": ["pgstac-test-item-0003", "f2cca2a3-288b-4518-8a3e-a4492bb60b08", "test-item"]},
    ),
    Case("ids-in-two-collections", {"ids": ["pgstac-test-item-duplicated"]}),
    Case(
        "ids-and-collections-get",
        {"ids": ["pgstac-test-item-duplicated"], "collections": ["pgstac-test-collection"]},
        method="GET",
    ),
    Case("max-items-over-pages", {"collections": ["naip"]}, limit=9, max_items=40),
    Case(
        "max-items-get-over-pages", {"collections": ["naip"]}, method="GET", limit=6, max_items=20
    ),
    Case("limit-1-pages", {"collections": ["planet-disaster-data"]}, limit=1),
    Case("max-items-below-limit", {}, limit=50, max_items=5),
    Case(
        "combined-bbox-datetime-collections",
        {
            "bbox": [-88.0, 30.4, -85.2, 31.1],
            "datetime": "2011-01-01T00:00:00Z/2015-12-31T23:59:59Z",
            "collections": ["naip", "pgstac-test-collection"],
        },
        limit=33,
    ),
    Case(
        "combined-intersects-datetime-get",
        {"intersects": NAIP_AREAS, "datetime": "2019-01-01T00:00:00Z/.."},
        method="GET", limit=8,
    ),
]


def _engine_params(sent: dict[str, Any]) -> dict[str, Any]:
    """``build_search`` arguments from the parameters pystac-client sent (GET or POST)."""
    params = {k: v for k, v in sent.items() if k != "limit"}
    if isinstance(params.get("intersects"), str):
        params["intersects"] = json.loads(params["intersects"])
    return params


async def engine_keys(
    sessions: async_sessionmaker[AsyncSession], params: dict[str, Any], limit: int | None,
    max_items: int | None,
) -> list[Key]:
    """What ``catalog.search`` returns for ``params``, every page (up to ``max_items``)."""
    keys: list[Key] = []
    token = None
    async with sessions() as session:
        for _ in range(MAX_PAGES):
            page = await search(session, build_search(**params, limit=limit, token=token))
            keys += [(item["collection"], item["id"]) for item in page.items]
            token = page.next_token
            if token is None or (max_items is not None and len(keys) >= max_items):
                return keys if max_items is None else keys[:max_items]
    raise AssertionError(f"more than {MAX_PAGES} pages")


@pytest.fixture(scope="module")
def client(catalog_server: str) -> Client:
    return Client.open(catalog_server)


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in CASES])
async def test_pystac_client_search_matches_catalog_search(
    client: Client, loaded_sessions: async_sessionmaker[AsyncSession], case: Case
) -> None:
    item_search = client.search(
        method=case.method, limit=case.limit, max_items=case.max_items, **case.params
    )
    sent = item_search.get_parameters()
    got = [(item["collection"], item["id"]) for item in item_search.items_as_dicts()]
    expected = await engine_keys(
        loaded_sessions, _engine_params(sent), case.limit, case.max_items
    )
    assert got == expected, f"sent {sent}"
    assert bool(expected) is not case.finds_nothing, f"sent {sent}: {len(expected)} items"


async def test_pystac_client_reads_every_collection(
    client: Client, loaded_sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with loaded_sessions() as session:
        expected = [doc["id"] for doc in await list_collections(session)]
    assert [collection.id for collection in client.get_collections()] == expected
