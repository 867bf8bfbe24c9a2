"""Who may do what over GraphQL: each write with no key, a wrong key, a revoked key, an
expired JWT, a key for another collection, a read-only key, and the right key; private
collections invisible without a key that may read them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import create_key, revoke_key
from catalog.jobs import create_job
from tests.graphql_api.conftest import GraphQL, app_settings
from tests.graphql_api.test_mutations import UPSERT, a_collection, an_item
from tests.support.app_client import app_client
from tests.support.tokens import bearer

Sessions = async_sessionmaker[AsyncSession]
CREATE_PRIVATE = """mutation($stac: JSON, $private: Boolean!) {
  createCollection(stac: $stac, private: $private) { id } }"""


@pytest.fixture
async def world(
    scratch_url: str, scratch_sessions: Sessions, tmp_path: Path, signer: tuple[Any, Path]
) -> AsyncIterator[tuple[GraphQL, dict[str, dict[str, str]]]]:
    """An app with JWTs enabled, collections `open` and `secret` (private) holding one
    item each, and the headers of every kind of caller."""
    settings = app_settings(scratch_url, tmp_path / "assets")
    settings.auth.jwks = str(signer[1])
    async with scratch_sessions() as session, session.begin():
        _, admin = await create_key(session, "admin", "admin")
    async with app_client(settings) as (app, client):
        gql = GraphQL(app, client)
        setup = {"X-API-Key": admin}
        for cid in ("open", "secret"):
            made = await post(gql, setup, CREATE_PRIVATE, stac=a_collection(cid),
                              private=cid == "secret")
            item = an_item(f"{cid}-1", 0, "2021-01-01T00:00:00Z", 1.0, collection=cid)
            stored = await post(gql, setup, UPSERT, items=[item])
            assert "errors" not in made and "errors" not in stored, (made, stored)
        async with scratch_sessions() as session, session.begin():
            _, writer = await create_key(session, "writer", "write", "secret")
            _, other = await create_key(session, "other", "write", "open")
            _, reader = await create_key(session, "reader", "read", "secret")
            _, revoked = await create_key(session, "gone", "admin")
            await revoke_key(session, "gone")
        callers = {
            "none": {},
            "wrong key": {"X-API-Key": writer[:-2] + "xx"},
            "revoked key": {"X-API-Key": revoked},
            "expired jwt": {"Authorization": bearer(signer[0], "stacql:write", -60)},
            "other collection": {"X-API-Key": other},
            "read only": {"X-API-Key": reader},
            "right key": {"X-API-Key": writer},
            "right jwt": {"Authorization": bearer(signer[0], "stacql:write",
                                                  **{"stacql:collection": "secret"})},
            "admin": setup,
        }
        yield gql, callers


async def post(gql: GraphQL, headers: dict[str, str], query: str, **variables: Any) -> dict:
    response = await gql.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return response.json()


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors")
    return errors[0]["extensions"]["code"] if errors else None


WRITES = {
    "upsert": (UPSERT, {"items": [an_item("new", 0, "2021-02-01T00:00:00Z", 2.0, "secret")]}),
    "delete item": ('mutation { deleteItem(collectionId: "secret", id: "secret-1") }', {}),
    "patch collection": (
        'mutation { updateCollection(id: "secret", patch: {title: "T"}) { id } }', {}
    ),
    "delete collection": ('mutation { deleteCollection(id: "secret") }', {}),
}
EXPECTED = {
    "none": "UNAUTHENTICATED", "wrong key": "UNAUTHENTICATED",
    "revoked key": "UNAUTHENTICATED", "expired jwt": "UNAUTHENTICATED",
    "other collection": "FORBIDDEN", "read only": "FORBIDDEN",
    "right key": None, "right jwt": None, "admin": None,
}


@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize("caller", list(EXPECTED))
async def test_writes_need_write_on_the_collection(
    world: tuple[GraphQL, dict], write: str, caller: str
) -> None:
    gql, callers = world
    query, variables = WRITES[write]
    body = await post(gql, callers[caller], query, **variables)
    assert code(body) == EXPECTED[caller], body
    # A refused write leaves the item where it was.
    check = await post(gql, callers["admin"],
                       '{ item(collectionId: "secret", id: "secret-1") { id } }')
    if EXPECTED[caller] is not None:
        assert check["data"]["item"] == {"id": "secret-1"}


READS = """{ items { nodes { id } } collections { nodes { id } }
  collection(id: "secret") { id } item(collectionId: "secret", id: "secret-1") { id }
  aggregate { totalCount byCollection { key } } assets { nodes { itemId } } }"""


@pytest.mark.parametrize(
    ("caller", "sees_secret"),
    [("none", False), ("other collection", False), ("read only", True), ("right jwt", True),
     ("admin", True)],
)
async def test_private_collections_are_invisible_without_read(
    world: tuple[GraphQL, dict], caller: str, sees_secret: bool
) -> None:
    gql, callers = world
    data = (await post(gql, callers[caller], READS))["data"]
    expected_items = ["open-1", "secret-1"] if sees_secret else ["open-1"]
    assert sorted(n["id"] for n in data["items"]["nodes"]) == expected_items
    assert [n["id"] for n in data["collections"]["nodes"]] == (
        ["open", "secret"] if sees_secret else ["open"]
    )
    assert (data["collection"] is not None) == sees_secret
    assert (data["item"] is not None) == sees_secret
    assert data["aggregate"]["totalCount"] == len(expected_items)
    assert sorted(n["itemId"] for n in data["assets"]["nodes"]) == expected_items


async def test_a_bad_key_is_refused_even_for_public_reads(world: tuple[GraphQL, dict]) -> None:
    gql, callers = world
    assert code(await post(gql, callers["wrong key"], "{ items { nodes { id } } }")) == (
        "UNAUTHENTICATED"
    )


JOB = """query($id: ID!) { job(id: $id) { id params } }"""


@pytest.mark.parametrize(
    ("caller", "sees"), [("none", False), ("other collection", False), ("read only", True),
                         ("right key", True), ("admin", True)],
)
async def test_jobs_on_private_collections_are_invisible_without_read(
    world, scratch_sessions: Sessions, caller: str, sees: bool
) -> None:
    gql, callers = world
    async with scratch_sessions() as session, session.begin():
        secret = await create_job(session, "extract", {"collection_id": "secret",
                                                       "key": "secret/uploads/a.tif"})
        public = await create_job(session, "extract", {"collection_id": "open", "key": "o.tif"})
    found = await post(gql, callers[caller], JOB, id=str(secret.id))
    assert "errors" not in found, found
    assert (found["data"]["job"] is not None) is sees
    assert "secret/uploads" in str(found) if sees else "secret/uploads" not in str(found)
    opened = await post(gql, callers[caller], JOB, id=str(public.id))
    assert opened["data"]["job"]["id"] == str(public.id)


async def test_a_key_with_a_different_bearer_token_is_refused(world) -> None:
    gql, callers = world
    revoked = callers["revoked key"]["X-API-Key"]
    headers = {**callers["read only"], "Authorization": f"Bearer {revoked}"}
    body = await post(gql, headers, "{ items { nodes { id } } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
