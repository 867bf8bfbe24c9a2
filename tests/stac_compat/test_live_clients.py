"""pystac-client and rustac (Python binding and command line) against ``stacql serve``,
used as their documentation shows, with nothing stacql-specific (issue 18)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import rustac
from pystac_client import Client
from pystac_client.warnings import DoesNotConformTo
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.search import build_search, count_matches, search

TEXT = "gsd < 1 AND \"naip:state\" = 'al'"
ONE_ARGUMENT_AND = {"op": "and", "args": [{"op": "<", "args": [{"property": "gsd"}, 1]}]}
RUSTAC_CLI = Path(sys.executable).with_name("rustac")


async def _engine_ids(sessions: async_sessionmaker[AsyncSession], **params: Any) -> list[str]:
    async with sessions() as session:
        page = await search(session, build_search(limit=10_000, **params))
    return [item["id"] for item in page.items]


async def _count(sessions: async_sessionmaker[AsyncSession], **params: Any) -> int:
    async with sessions() as session:
        return await count_matches(session, build_search(**params))


@pytest.fixture(scope="module")
def client(catalog_server: str) -> Client:
    return Client.open(catalog_server)


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_pystac_client_matched_is_the_count(client, loaded_sessions, method) -> None:
    item_search = client.search(collections=["naip"], filter="gsd < 1", method=method)
    assert item_search.matched() == await _count(
        loaded_sessions, collections=["naip"], filter="gsd < 1"
    )


async def test_pystac_client_posts_cql2_text(client, loaded_sessions) -> None:
    item_search = client.search(filter=TEXT, filter_lang="cql2-text", limit=100)
    got = [item["id"] for item in item_search.items_as_dicts()]
    assert got == await _engine_ids(loaded_sessions, filter=TEXT) and got


async def test_pystac_client_sorts_without_a_conformance_warning(client, loaded_sessions) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DoesNotConformTo)
        item_search = client.search(
            collections=["naip"], sortby="-properties.gsd", fields=["id"], max_items=30,
            query={"gsd": {"lte": 1}}, filter=TEXT,
        )
        got = [item["id"] for item in item_search.items_as_dicts()]
    expected = await _engine_ids(
        loaded_sessions, collections=["naip"], sortby="-gsd", filter=f"{TEXT} AND gsd <= 1"
    )
    assert got == expected[:30] and got


def test_pystac_client_reads_queryables_from_our_api(client, catalog_server) -> None:
    ours = httpx.get(f"{catalog_server}collections/naip/queryables").json()
    assert client.get_collection("naip").get_queryables() == ours


async def test_rustac_searches_with_cql2_text(catalog_server, loaded_sessions) -> None:
    items = await rustac.search(catalog_server, collections="naip", filter=TEXT, limit=50)
    expected = await _engine_ids(loaded_sessions, collections=["naip"], filter=TEXT)
    assert [item["id"] for item in items] == expected and expected


async def test_rustac_searches_with_a_one_argument_and(catalog_server, loaded_sessions) -> None:
    items = await rustac.search(catalog_server, collections="joplin", filter=ONE_ARGUMENT_AND)
    expected = await _engine_ids(
        loaded_sessions, collections=["joplin"], filter=ONE_ARGUMENT_AND["args"][0]
    )
    assert [item["id"] for item in items] == expected


@pytest.mark.parametrize(
    "given", [TEXT, orjson.dumps(ONE_ARGUMENT_AND).decode()], ids=["text", "json-text"]
)
async def test_rustac_command_line_filter(catalog_server, loaded_sessions, given) -> None:
    done = subprocess.run(
        [str(RUSTAC_CLI), "search", catalog_server, "--collections", "naip", "--filter", given,
         "--max-items", "40"],
        capture_output=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    got = [feature["id"] for feature in orjson.loads(done.stdout)["features"]]
    expected = await _engine_ids(loaded_sessions, collections=["naip"], filter=given)
    assert got == expected[:40] and got
