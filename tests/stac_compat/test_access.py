"""Who may do what over the STAC API: Transaction writes by each kind of caller, and
private collections invisible without a key that may read them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import create_key, revoke_key, set_private
from stacql.settings import DatabaseSettings, Settings
from tests.graphql_api.test_mutations import a_collection, an_item
from tests.support.app_client import app_client
from tests.support.tokens import bearer

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(
    scratch_url: str, scratch_sessions: Sessions, tmp_path: Path, signer: tuple[Any, Path]
) -> AsyncIterator:
    """Collections `open` and `secret` (private) with one item each, and callers' headers."""
    async with scratch_sessions() as session, session.begin():
        _, admin = await create_key(session, "admin", "admin")
    settings = Settings(database=DatabaseSettings(url=scratch_url))
    settings.auth.jwks = str(signer[1])
    async with app_client(settings) as (_, client):
        for cid in ("open", "secret"):
            made = await client.post("/collections", json=a_collection(cid),
                                     headers={"X-API-Key": admin})
            assert made.status_code in (200, 201), made.text
            stored = await client.post(f"/collections/{cid}/items",
                                       json=an_item(f"{cid}-1", 0, "2021-01-01T00:00:00Z", 1.0,
                                                    collection=cid),
                                       headers={"X-API-Key": admin})
            assert stored.status_code in (200, 201), stored.text
        async with scratch_sessions() as session, session.begin():
            await set_private(session, "secret", True)
            _, writer = await create_key(session, "writer", "write", "secret")
            _, other = await create_key(session, "other", "write", "open")
            _, reader = await create_key(session, "reader", "read", "secret")
            _, gone = await create_key(session, "gone", "admin")
            await revoke_key(session, "gone")
        callers = {
            "none": {}, "wrong key": {"X-API-Key": writer[:-2] + "zz"},
            "revoked key": {"Authorization": f"Bearer {gone}"},
            "expired jwt": {"Authorization": bearer(signer[0], "stacql:write", -60)},
            "right jwt": {"Authorization": bearer(signer[0], "stacql:write",
                                                  **{"stacql:collection": "secret"})},
            "other collection": {"X-API-Key": other}, "read only": {"X-API-Key": reader},
            "right key": {"X-API-Key": writer}, "admin": {"X-API-Key": admin},
        }
        yield client, callers


EXPECTED = {"none": 401, "wrong key": 401, "revoked key": 401, "expired jwt": 401,
            "other collection": 403, "read only": 403, "right key": None, "right jwt": None,
            "admin": None}


@pytest.mark.parametrize("caller", list(EXPECTED))
@pytest.mark.parametrize("write", ["post item", "put item", "patch item", "delete item",
                                   "patch collection", "delete collection"])
async def test_transactions_need_write_on_the_collection(world, caller: str, write: str) -> None:
    client, callers = world
    headers = callers[caller]
    item = an_item("secret-1", 0, "2021-01-01T00:00:00Z", 7.0, collection="secret")
    requests = {
        "post item": ("POST", "/collections/secret/items",
                      {**item, "id": "secret-2"}),
        "put item": ("PUT", "/collections/secret/items/secret-1", item),
        "patch item": ("PATCH", "/collections/secret/items/secret-1",
                       {"properties": {"eo:cloud_cover": 3}}),
        "delete item": ("DELETE", "/collections/secret/items/secret-1", None),
        "patch collection": ("PATCH", "/collections/secret", {"title": "T"}),
        "delete collection": ("DELETE", "/collections/secret", None),
    }
    method, path, body = requests[write]
    response = await client.request(method, path, json=body, headers=headers)
    expected = EXPECTED[caller]
    if expected is None:
        assert response.status_code < 300, response.text
    else:
        assert response.status_code == expected, response.text
        assert response.json()["code"] in ("UNAUTHORIZED", "FORBIDDEN")
        still = await client.get("/collections/secret/items/secret-1",
                                 headers=callers["admin"])
        assert still.status_code == 200


@pytest.mark.parametrize(
    ("caller", "sees"), [("none", False), ("other collection", False), ("read only", True),
                         ("admin", True)],
)
async def test_private_collections_are_invisible_without_read(world, caller: str, sees: bool):
    client, callers = world
    headers = callers[caller]
    search = (await client.get("/search", headers=headers)).json()
    ids = sorted(f["id"] for f in search["features"])
    assert ids == (["open-1", "secret-1"] if sees else ["open-1"])
    collections = (await client.get("/collections", headers=headers)).json()["collections"]
    assert sorted(c["id"] for c in collections) == (["open", "secret"] if sees else ["open"])
    expected = 200 if sees else 404
    for path in ("/collections/secret", "/collections/secret/items",
                 "/collections/secret/items/secret-1", "/collections/secret/queryables"):
        assert (await client.get(path, headers=headers)).status_code == expected, path
    total = (await client.get("/aggregate?aggregations=total_count", headers=headers)).json()
    assert total["aggregations"][0]["value"] == len(ids)


@pytest.mark.parametrize(
    ("caller", "sees"), [("none", False), ("other collection", False), ("read only", True),
                         ("admin", True)],
)
async def test_catalog_queryables_leave_out_properties_of_unreadable_collections(
    world, caller: str, sees: bool
) -> None:
    client, callers = world
    patched = await client.patch("/collections/secret/items/secret-1",
                                 json={"properties": {"secret:codename": "x"}},
                                 headers=callers["admin"])
    assert patched.status_code < 300, patched.text
    queryables = (await client.get("/queryables", headers=callers[caller])).json()
    assert ("secret:codename" in queryables["properties"]) is sees
    assert "eo:cloud_cover" in queryables["properties"]
    sorted_by = await client.get("/search", params={"sortby": "secret:codename"},
                                 headers=callers[caller])
    assert sorted_by.status_code == (200 if sees else 400)


@pytest.mark.parametrize("bearer_of", ["revoked key", "wrong key", "other collection"])
async def test_two_different_credentials_are_refused(world, bearer_of: str) -> None:
    client, callers = world
    other = next(iter(callers[bearer_of].values()))
    headers = {**callers["read only"], "Authorization": f"Bearer {other}"}
    response = await client.get("/search", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"


async def test_the_same_key_in_both_headers_is_accepted(world) -> None:
    client, callers = world
    key = callers["read only"]["X-API-Key"]
    headers = {"X-API-Key": key, "Authorization": f"Bearer {key}"}
    search = (await client.get("/search", headers=headers)).json()
    assert sorted(f["id"] for f in search["features"]) == ["open-1", "secret-1"]
