"""Transaction writes are refused before their bodies are read when the caller may not
make them (issue 16: a 48 MB body was decoded before an anonymous caller got its 401)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import create_key
from catalog.ingest import create_collection
from stacql.settings import DatabaseSettings, Settings
from tests.support.app_client import app_client
from tests.support.documents import world_collection

CHUNK = b"x" * 65_536


class CountedBody:
    """A request body streamed in chunks, counting those the server pulled."""

    def __init__(self, chunks: int = 64) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield CHUNK


@pytest.fixture
async def keyed_client(
    scratch_url: str, scratch_sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]]]]:
    """A client on an app with collections `open` and `secret`, and callers' headers."""
    async with scratch_sessions() as session, session.begin():
        for cid in ("open", "secret"):
            await create_collection(session, world_collection(cid))
        _, reader = await create_key(session, "reader", "read")
        _, other = await create_key(session, "other", "write", "open")
    callers = {"anonymous": {}, "read only": {"X-API-Key": reader},
               "other collection": {"X-API-Key": other}}
    settings = Settings(database=DatabaseSettings(url=scratch_url))
    async with app_client(settings) as (_, client):
        yield client, callers


def transaction_routes(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every Transaction route the app documents, with ids filled in."""
    routes = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if "Transaction Extension" in operation.get("tags", ()):
                filled = path.replace("{collection_id}", "secret").replace("{item_id}", "i")
                routes.append((method.upper(), filled))
    return routes


@pytest.mark.parametrize(("caller", "status"), [("anonymous", 401), ("read only", 403)])
async def test_every_transaction_route_refuses_a_caller_before_reading_its_body(
    keyed_client, caller: str, status: int
) -> None:
    client, callers = keyed_client
    routes = transaction_routes((await client.get("/api")).json())
    assert len(routes) == 8
    for method, path in routes:
        body = CountedBody()
        response = await client.request(
            method, path, content=body,
            headers={**callers[caller], "content-type": "application/json"},
        )
        assert response.status_code == status, (method, path, response.text)
        assert response.json()["code"] == ("UNAUTHORIZED" if status == 401 else "FORBIDDEN")
        assert body.pulled == 0, (method, path)


async def test_a_key_of_another_collection_is_refused_unread(keyed_client) -> None:
    client, callers = keyed_client
    body = CountedBody()
    response = await client.post("/collections/secret/items", content=body,
                                 headers={**callers["other collection"],
                                          "content-type": "application/json"})
    assert response.status_code == 403
    assert "secret" in response.json()["description"]
    assert body.pulled == 0


async def test_an_allowed_caller_has_its_body_read_and_checked(keyed_client) -> None:
    client, callers = keyed_client
    body = CountedBody(chunks=4)
    response = await client.post("/collections/open/items", content=body,
                                 headers={**callers["other collection"],
                                          "content-type": "application/json"})
    assert body.pulled == 4
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_INPUT"


async def test_a_write_key_bound_to_a_collection_may_still_create_it(keyed_client) -> None:
    client, callers = keyed_client
    doc = world_collection("open")
    response = await client.post("/collections", json={**doc, "id": "elsewhere"},
                                 headers=callers["other collection"])
    assert response.status_code == 403  # checked against the body, by the client
    response = await client.post("/collections", json=doc, headers=callers["other collection"])
    assert response.status_code == 409  # let in: `open` exists already
