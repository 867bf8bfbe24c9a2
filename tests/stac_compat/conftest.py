"""An HTTP client on the real app (``create_app``) over the loaded shared catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from stacql.app import create_app
from stacql.settings import DatabaseSettings, Settings


@pytest.fixture(scope="session")
async def stac_client(catalog_url: str, loaded_sessions) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database=DatabaseSettings(url=catalog_url)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stacql.test") as client:
        yield client


@pytest.fixture
async def scratch_client(scratch_url: str, scratch_sessions) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app over an empty catalog."""
    app = create_app(Settings(database=DatabaseSettings(url=scratch_url)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stacql.test") as client:
        yield client
