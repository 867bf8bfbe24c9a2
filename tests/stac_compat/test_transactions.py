"""The Transaction extension over HTTP on an empty catalog."""

from __future__ import annotations

import copy

import orjson
import pytest
from sqlalchemy import text

from tests.support.paths import STAC_DATA

FASTAPI_DATA = STAC_DATA / "stac-fastapi-pgstac"
COLLECTION = orjson.loads((FASTAPI_DATA / "test_collection.json").read_bytes())
ITEM = orjson.loads((FASTAPI_DATA / "test_item.json").read_bytes())
ITEMS_URL = f"/collections/{COLLECTION['id']}/items"
ITEM_URL = f"{ITEMS_URL}/{ITEM['id']}"


@pytest.fixture
async def with_collection(scratch_client):
    assert (await scratch_client.post("/collections", json=COLLECTION)).status_code == 201
    return scratch_client


async def test_created_collection_is_served_with_its_links(scratch_client) -> None:
    created = await scratch_client.post("/collections", json=COLLECTION)
    served = (await scratch_client.get(f"/collections/{COLLECTION['id']}")).json()
    assert created.status_code == 201
    assert served["description"] == COLLECTION["description"]
    assert any(link["rel"] == "items" for link in served["links"])


async def test_creating_an_existing_collection_conflicts(with_collection) -> None:
    response = await with_collection.post("/collections", json=COLLECTION)
    assert response.status_code == 409 and response.json()["code"] == "CONFLICT"


async def test_created_item_is_searchable(with_collection) -> None:
    created = await with_collection.post(ITEMS_URL, json=ITEM)
    found = (await with_collection.get(f"/search?ids={ITEM['id']}")).json()
    assert created.status_code == 201
    assert created.headers["content-type"].startswith("application/geo+json")
    assert [f["id"] for f in found["features"]] == [ITEM["id"]]


async def test_creating_an_existing_item_conflicts(with_collection) -> None:
    await with_collection.post(ITEMS_URL, json=ITEM)
    response = await with_collection.post(ITEMS_URL, json=ITEM)
    assert response.status_code == 409


async def test_item_for_an_unknown_collection_is_not_found(scratch_client) -> None:
    response = await scratch_client.post("/collections/nope/items", json=ITEM)
    assert response.status_code in (400, 404)
    assert set(response.json()) == {"code", "description"}


async def test_put_replaces_the_item(with_collection) -> None:
    await with_collection.post(ITEMS_URL, json=ITEM)
    changed = copy.deepcopy(ITEM)
    changed["properties"]["platform"] = "replaced"
    response = await with_collection.put(ITEM_URL, json=changed)
    served = (await with_collection.get(ITEM_URL)).json()
    assert response.status_code == 204 and served["properties"]["platform"] == "replaced"


async def test_put_returns_the_item_when_asked_to(with_collection) -> None:
    await with_collection.post(ITEMS_URL, json=ITEM)
    headers = {"Prefer": "return=representation"}
    response = await with_collection.put(ITEM_URL, json=ITEM, headers=headers)
    assert response.status_code == 200 and response.json()["id"] == ITEM["id"]


async def test_item_without_links_is_accepted(with_collection) -> None:
    partial = {k: v for k, v in ITEM.items() if k != "links"}
    response = await with_collection.post(ITEMS_URL, json=partial)
    assert response.status_code == 201


async def test_put_of_a_missing_item_is_not_found(with_collection) -> None:
    response = await with_collection.put(ITEM_URL, json=ITEM)
    assert response.status_code == 404


async def test_put_with_another_id_than_the_path_is_refused(with_collection) -> None:
    await with_collection.post(ITEMS_URL, json=ITEM)
    response = await with_collection.put(f"{ITEMS_URL}/other", json=ITEM)
    assert response.status_code == 400


async def test_merge_patch_sets_and_removes_properties(with_collection) -> None:
    await with_collection.post(ITEMS_URL, json=ITEM)
    patch = {"properties": {"platform": None, "stacql:note": "patched"}}
    await with_collection.patch(ITEM_URL, json=patch)
    body = (await with_collection.get(ITEM_URL)).json()
    assert "platform" not in body["properties"]
    assert body["properties"]["stacql:note"] == "patched"


async def test_bulk_insert_of_an_item_collection(with_collection) -> None:
    features = []
    for n in range(3):
        feature = copy.deepcopy(ITEM)
        feature["id"] = f"bulk-{n}"
        features.append(feature)
    response = await with_collection.post(
        ITEMS_URL, json={"type": "FeatureCollection", "features": features}
    )
    listed = (await with_collection.get(f"{ITEMS_URL}?limit=10")).json()
    assert response.status_code == 201 and response.json()["inserted"] == 3
    assert {f["id"] for f in listed["features"]} == {"bulk-0", "bulk-1", "bulk-2"}


async def test_invalid_item_is_refused_and_nothing_written(
    with_collection, scratch_sessions
) -> None:
    bad = copy.deepcopy(ITEM)
    bad["geometry"] = orjson.loads(
        (STAC_DATA / "stac-server/geometry/badGeoFourPoints.json").read_bytes()
    )
    response = await with_collection.post(ITEMS_URL, json=bad)
    async with scratch_sessions() as session:
        count = await session.scalar(text("SELECT count(*) FROM items"))
    assert response.status_code == 400 and response.json()["code"] == "INVALID_GEOMETRY"
    assert count == 0


async def test_malformed_json_body_is_a_bad_request(with_collection) -> None:
    response = await with_collection.post(ITEMS_URL, content=b"{not json")
    assert response.status_code == 400


async def test_delete_item_then_it_is_gone(with_collection) -> None:
    await with_collection.post(ITEMS_URL, json=ITEM)
    deleted = await with_collection.delete(ITEM_URL)
    again = await with_collection.get(ITEM_URL)
    assert (deleted.status_code, again.status_code) == (204, 404)


async def test_delete_collection_then_it_is_gone(with_collection) -> None:
    deleted = await with_collection.delete(f"/collections/{COLLECTION['id']}")
    again = await with_collection.get(f"/collections/{COLLECTION['id']}")
    assert (deleted.status_code, again.status_code) == (204, 404)
