"""An HTTP client on the real app (``create_app``) over the loaded shared catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from stacql.settings import DatabaseSettings, Settings
from tests.support.access import admin_key
from tests.support.app_client import app_client
from tests.support.live_server import live_server


@pytest.fixture(scope="session")
async def stac_client(catalog_url: str, loaded_sessions) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(Settings(database=DatabaseSettings(url=catalog_url))) as (_, client):
        yield client


@pytest.fixture
async def scratch_client(scratch_url: str, scratch_sessions) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app over an empty catalog, with an admin key."""
    settings = Settings(database=DatabaseSettings(url=scratch_url))
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    async with app_client(settings, headers) as (_, client):
        yield client


@pytest.fixture(scope="module")
def catalog_server(catalog_url: str, loaded_sessions) -> Iterator[str]:
    """A live ``stacql serve`` over the catalog loaded with ``../shared/data/stac`` (its
    count budget one a loaded machine does not pass: the clients check the count)."""
    with live_server(catalog_url, env={"STACQL_API_COUNT_BUDGET_MS": "5000"}) as url:
        yield url


@pytest.fixture(scope="module")
def scratch_server(scratch_url: str) -> Iterator[str]:
    """A live ``stacql serve`` over the scratch catalog (emptied by ``scratch_sessions``)."""
    with live_server(scratch_url) as url:
        yield url
