"""Subscriptions over graphql-transport-ws against a live ``stacql serve``."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.jobs import create_job, mark_finished, mark_started, set_progress
from tests.graphql_api.conftest import admin_key
from tests.graphql_api.test_mutations import CREATE, UPSERT, a_collection, an_item

WAIT_S = 15.0


class Subscription:
    """One subscription on its own graphql-transport-ws connection."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket

    async def next(self) -> dict[str, Any]:
        """The next ``next`` payload's data; fails on an error or after ``WAIT_S``."""
        frame = await asyncio.wait_for(self.socket.recv(), WAIT_S)
        assert isinstance(frame, str)  # a text frame: browsers' clients read no binary one
        message = json.loads(frame)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]

    async def completes(self) -> bool:
        """Whether the server completes the subscription next."""
        message = json.loads(await asyncio.wait_for(self.socket.recv(), WAIT_S))
        return message["type"] == "complete"

    async def silent_for(self, seconds: float) -> bool:
        """Whether nothing arrives within ``seconds``."""
        try:
            await asyncio.wait_for(self.socket.recv(), seconds)
        except TimeoutError:
            return True
        return False


@asynccontextmanager
async def subscribe(base_url: str, query: str, **variables: Any) -> AsyncIterator[Subscription]:
    """Open a connection, acknowledge, and start ``query``."""
    url = base_url.replace("http://", "ws://") + "graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init"}))
        ack = await socket.recv()
        assert isinstance(ack, str), ack  # text frames, as browsers' graphql-ws clients need
        assert json.loads(ack)["type"] == "connection_ack"
        await socket.send(json.dumps({
            "id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables},
        }))
        yield Subscription(socket)


async def mutate(base_url: str, token: str, query: str, **variables: Any) -> dict[str, Any]:
    """Run a mutation through HTTP on the live server, with an API key."""
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": token}) as client:
        response = await client.post("graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


ITEMS_ADDED = """subscription($bbox: [Float!]) {
  itemsAdded(collections: ["scenes"], bbox: $bbox) {
    id collectionId property(name: "eo:cloud_cover") } }"""


async def test_items_added_pushes_matching_items_as_they_are_committed(
    live_scratch: str, scratch_sessions: async_sessionmaker[AsyncSession]
) -> None:
    token = await admin_key(scratch_sessions)
    await mutate(live_scratch, token, CREATE, stac=a_collection("scenes"))
    await mutate(live_scratch, token, CREATE, stac=a_collection("others"))
    async with subscribe(live_scratch, ITEMS_ADDED, bbox=[0, 0, 3, 1]) as subscription:
        await asyncio.sleep(0.5)  # the subscription has read its starting point
        await mutate(live_scratch, token, UPSERT, items=[
            an_item("inside", 1, "2021-01-01T00:00:00Z", 5.0),
            an_item("outside", 7, "2021-01-01T00:00:00Z", 5.0),
            an_item("other-collection", 1, "2021-01-01T00:00:00Z", 5.0, collection="others"),
        ])
        first = await subscription.next()
        assert first["itemsAdded"] == {"id": "inside", "collectionId": "scenes", "property": 5.0}
        changed = an_item("inside", 1, "2021-01-01T00:00:00Z", 9.0)
        await mutate(live_scratch, token, UPSERT, items=[changed])
        second = await subscription.next()
        assert second["itemsAdded"]["property"] == 9.0
        # Writing the same document again changes nothing, so nothing is pushed.
        await mutate(live_scratch, token, UPSERT, items=[changed])
        assert await subscription.silent_for(3.0)


JOB = "subscription($id: ID!) { job(id: $id) { status progress message } }"


async def test_job_streams_progress_until_it_ends(
    live_scratch: str, scratch_sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with scratch_sessions() as session, session.begin():
        job = await create_job(session, "extract_item", {"key": "k"})
    async with subscribe(live_scratch, JOB, id=str(job.id)) as subscription:
        assert (await subscription.next())["job"]["status"] == "QUEUED"
        async with scratch_sessions() as session, session.begin():
            await mark_started(session, job.id, "reading")
        assert (await subscription.next())["job"]["status"] == "STARTED"
        async with scratch_sessions() as session, session.begin():
            await set_progress(session, job.id, 0.5, "halfway")
        update = (await subscription.next())["job"]
        assert (update["progress"], update["message"]) == (0.5, "halfway")
        async with scratch_sessions() as session, session.begin():
            await mark_finished(session, job.id, {"ok": True}, "done")
        assert (await subscription.next())["job"]["status"] == "FINISHED"
        assert await subscription.completes()


async def test_a_subscription_to_an_unknown_job_gets_an_error(
    live_scratch: str, scratch_sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with subscribe(live_scratch, JOB, id=str(uuid.uuid4())) as subscription:
        message = json.loads(await asyncio.wait_for(subscription.socket.recv(), WAIT_S))
    assert message["type"] in ("next", "error"), message
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
