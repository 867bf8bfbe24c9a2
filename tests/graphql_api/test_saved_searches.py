"""Saved searches in GraphQL: the owner's own, coded errors, and the subscription."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import create_key
from catalog.saved import match_changes
from tests.graphql_api.conftest import GraphQL, _client, admin_key, app_settings
from tests.graphql_api.test_mutations import CREATE, UPSERT, a_collection, an_item
from tests.graphql_api.test_subscriptions import WAIT_S, Subscription, mutate

FIELDS = "id name search webhookUrl webhookSecret deliveries { id status }"
CREATE_SAVED = f"""mutation($input: SavedSearchCreateInput!) {{
  createSavedSearch(input: $input) {{ {FIELDS} }} }}"""
UPDATE_SAVED = f"""mutation($id: ID!, $input: SavedSearchUpdateInput!) {{
  updateSavedSearch(id: $id, input: $input) {{ {FIELDS} }} }}"""
DELETE_SAVED = "mutation($id: ID!) { deleteSavedSearch(id: $id) }"
ONE = f"query($id: ID!) {{ savedSearch(id: $id) {{ {FIELDS} }} }}"
ALL = "{ savedSearches { id name } }"
HOOK = "https://93.184.215.14/hook"  # a public address: no DNS needed offline


async def _key(sessions: async_sessionmaker[AsyncSession], name: str) -> str:
    async with sessions() as session, session.begin():
        _, token = await create_key(session, name, "read")
    return token


@pytest.fixture
async def owners(
    scratch_url: str, scratch_sessions: async_sessionmaker[AsyncSession], tmp_path: Any
) -> AsyncIterator[dict[str, GraphQL]]:
    settings = app_settings(scratch_url, tmp_path / "assets")
    clients: dict[str, GraphQL] = {}
    async for alice in _client(settings, await _key(scratch_sessions, "alice")):
        async for bob in _client(settings, await _key(scratch_sessions, "bob")):
            async for anonymous in _client(settings):
                clients.update(alice=alice, bob=bob, anonymous=anonymous)
                yield clients


async def test_an_item_filter_is_saved_as_a_stac_search_and_can_be_changed(
    owners: dict[str, GraphQL],
) -> None:
    alice = owners["alice"]
    created = (await alice.data(CREATE_SAVED, input={
        "name": "clear scenes", "webhookUrl": HOOK,
        "filter": {"collections": ["scenes"], "bbox": [0, 0, 3, 1],
                   "where": [{"property": "eo:cloud_cover", "lt": 10}]},
    }))["createSavedSearch"]
    assert created["search"] == {
        "collections": ["scenes"], "bbox": [0, 0, 3, 1], "filter-lang": "cql2-json",
        "filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]},
    }
    assert created["webhookSecret"].startswith("whsec_") and created["deliveries"] == []
    changed = (await alice.data(UPDATE_SAVED, id=created["id"], input={
        "name": "renamed", "removeWebhook": True,
    }))["updateSavedSearch"]
    assert (changed["name"], changed["webhookUrl"], changed["webhookSecret"]) == (
        "renamed", None, None
    )
    assert (await alice.data(ALL))["savedSearches"] == [{"id": created["id"], "name": "renamed"}]
    assert (await alice.data(DELETE_SAVED, id=created["id"]))["deleteSavedSearch"] is True
    assert await alice.error_codes(ONE, id=created["id"]) == ["NOT_FOUND"]


async def test_another_key_gets_not_found_and_anonymous_callers_are_unauthenticated(
    owners: dict[str, GraphQL],
) -> None:
    created = (await owners["alice"].data(CREATE_SAVED, input={"name": "a", "search": {}}))
    search_id = created["createSavedSearch"]["id"]
    bob = owners["bob"]
    assert await bob.error_codes(ONE, id=search_id) == ["NOT_FOUND"]
    assert await bob.error_codes(UPDATE_SAVED, id=search_id, input={"name": "b"}) == ["NOT_FOUND"]
    assert await bob.error_codes(DELETE_SAVED, id=search_id) == ["NOT_FOUND"]
    assert (await bob.data(ALL))["savedSearches"] == []
    assert await owners["anonymous"].error_codes(ALL) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(("given", "code"), [
    ({"search": {"filter": {"op": "=", "args": [{"property": "x"}]}}}, "BAD_USER_INPUT"),
    ({"filter": {"filter": "cloud <<< 3"}}, "BAD_USER_INPUT"),
    ({"search": {}, "filter": {"ids": ["a"]}}, "BAD_USER_INPUT"),
    ({"search": {"sortby": "datetime"}}, "BAD_USER_INPUT"),
    ({"search": {}, "webhookUrl": "gopher://example.com"}, "BAD_USER_INPUT"),
    ({"search": {}, "webhookUrl": "http://127.0.0.1:8080/hook"}, "FORBIDDEN"),
    ({"search": {}, "webhookUrl": "http://192.168.1.1/hook"}, "FORBIDDEN"),
])
async def test_bad_saved_searches_get_coded_errors(
    owners: dict[str, GraphQL], given: dict[str, Any], code: str
) -> None:
    alice = owners["alice"]
    assert await alice.error_codes(CREATE_SAVED, input={"name": "x", **given}) == [code]
    assert (await alice.data(ALL))["savedSearches"] == []


SAVED_ITEMS = """subscription($id: ID!) {
  savedSearchItems(id: $id) { id collectionId property(name: "eo:cloud_cover") } }"""


async def test_a_saved_search_is_followed_as_a_subscription(
    live_scratch: str, scratch_sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await admin_key(scratch_sessions)
    await mutate(live_scratch, admin, CREATE, stac=a_collection("scenes"))
    saved = await mutate(live_scratch, admin, CREATE_SAVED, input={
        "name": "west", "filter": {"collections": ["scenes"], "bbox": [0, 0, 3, 1]},
    })
    url = live_scratch.replace("http://", "ws://") + "graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": admin}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SAVED_ITEMS, "variables": {"id": saved["createSavedSearch"]["id"]},
        }}))
        subscription = Subscription(socket)
        await asyncio.sleep(0.5)
        await mutate(live_scratch, admin, UPSERT, items=[
            an_item("inside", 1, "2021-01-01T00:00:00Z", 5.0),
            an_item("outside", 7, "2021-01-01T00:00:00Z", 5.0),
        ])
        first = await subscription.next()
        assert first["savedSearchItems"] == {
            "id": "inside", "collectionId": "scenes", "property": 5.0,
        }
        assert await subscription.silent_for(min(3.0, WAIT_S))


DELIVERIES = """query($id: ID!) { savedSearch(id: $id) {
  deliveries { id event status items } } }"""


async def _match(sessions: async_sessionmaker[AsyncSession]) -> None:
    """One pass of the matching the notify worker runs."""
    async with sessions() as session, session.begin():
        await match_changes(session)


async def test_each_delivery_names_its_event_as_the_rest_delivery_log_does(
    owners: dict[str, GraphQL], scratch_url: str,
    scratch_sessions: async_sessionmaker[AsyncSession], tmp_path: Any,
) -> None:
    alice = owners["alice"]
    saved = (await alice.data(CREATE_SAVED, input={
        "name": "west", "webhookUrl": HOOK,
        "filter": {"collections": ["scenes"], "bbox": [0, 0, 3, 1]},
    }))["createSavedSearch"]
    settings = app_settings(scratch_url, tmp_path / "admin-assets")
    async for admin in _client(settings, await admin_key(scratch_sessions)):
        await admin.data(CREATE, stac=a_collection("scenes"))
        await admin.data(UPSERT, items=[an_item("inside", 1, "2021-01-01T00:00:00Z", 5.0),
                                        an_item("outside", 7, "2021-01-01T00:00:00Z", 5.0)])
        await _match(scratch_sessions)
        for gone in ("inside", "outside"):
            deleted = await admin.data(
                "mutation($id: String!) { deleteItem(collectionId: \"scenes\", id: $id) }",
                id=gone,
            )
            assert deleted == {"deleteItem": True}
        await _match(scratch_sessions)

    deliveries = (await alice.data(DELIVERIES, id=saved["id"]))["savedSearch"]["deliveries"]
    assert [(d["event"], [entry["id"] for entry in d["items"]]) for d in deliveries] == [
        ("item.deleted", ["inside"]), ("item.changed", ["inside"]),
    ]
    logged = await alice.client.get(f"/saved-searches/{saved['id']}/deliveries")
    assert logged.status_code == 200
    assert [(str(d["id"]), d["event"], d["status"]) for d in logged.json()["deliveries"]] == [
        (d["id"], d["event"], d["status"]) for d in deliveries
    ]
