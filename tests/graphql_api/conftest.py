"""GraphQL clients on the real app (``create_app``) over real PostGIS catalogs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from stacql.settings import DatabaseSettings, RedisSettings, Settings, StorageSettings
from tests.support.access import admin_key
from tests.support.app_client import app_client
from tests.support.live_server import live_server

# Not the workers tests' db 15, which they flush around each test.
TEST_REDIS_URL = os.environ.get("STACQL_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@dataclass
class GraphQL:
    """Posts GraphQL operations to ``/graphql`` of an app."""

    app: FastAPI
    client: httpx.AsyncClient

    async def post(self, query: str, **variables: Any) -> dict[str, Any]:
        """The response body of the operation (``data`` and maybe ``errors``)."""
        response = await self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code in (200, 400), response.text
        return response.json()

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        """The ``data`` of an operation that must succeed."""
        body = await self.post(query, **variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def error_codes(self, query: str, **variables: Any) -> list[str]:
        """The ``extensions.code`` of each error of an operation that must fail."""
        body = await self.post(query, **variables)
        assert body.get("errors"), body
        return [e.get("extensions", {}).get("code") for e in body["errors"]]


def app_settings(database_url: str, storage: Path) -> Settings:
    """Settings of an app on ``database_url`` storing uploads under ``storage``."""
    return Settings(
        database=DatabaseSettings(url=database_url),
        storage=StorageSettings(url=str(storage)),
        redis=RedisSettings(url=TEST_REDIS_URL),
    )


async def _client(settings: Settings, token: str | None = None) -> AsyncIterator[GraphQL]:
    async with app_client(settings, {"X-API-Key": token} if token else None) as (app, client):
        yield GraphQL(app, client)



@pytest.fixture(scope="session")
async def gql(catalog_url: str, loaded_sessions, tmp_path_factory) -> AsyncIterator[GraphQL]:
    """GraphQL over the catalog loaded with ``../shared/data/stac`` (read-only)."""
    storage = tmp_path_factory.mktemp("assets")
    async for client in _client(app_settings(catalog_url, storage)):
        yield client


@pytest.fixture
async def scratch_gql(scratch_url: str, scratch_sessions, tmp_path) -> AsyncIterator[GraphQL]:
    """GraphQL over an empty catalog (truncated before the test), as an admin."""
    token = await admin_key(scratch_sessions)
    async for client in _client(app_settings(scratch_url, tmp_path / "assets"), token):
        yield client


@pytest.fixture(scope="module")
def live_scratch(scratch_url: str) -> Iterator[str]:
    """A live ``stacql serve`` over the scratch catalog (emptied by ``scratch_sessions``)."""
    with live_server(scratch_url) as url:
        yield url
