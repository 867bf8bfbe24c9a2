"""The same write has the same effect from either API: both call ``catalog.operations``.

Each test makes a write through the STAC Transaction endpoints and the same write
through a GraphQL mutation (on twin ids), then reads both back through the STAC API and
compares the documents, ids and links aside. The completion hook's parity (the jobs a
write queues) is tested with a real queue in ``tests/workers/test_completion.py``.
"""

from __future__ import annotations

from typing import Any

from tests.graphql_api.conftest import GraphQL
from tests.graphql_api.test_mutations import CREATE, UPSERT, a_collection, an_item

REPLACE = """mutation($id: String!, $stac: JSON) { updateCollection(id: $id, stac: $stac) {
  id } }"""
PATCH = """mutation($id: String!, $patch: JSON) { updateCollection(id: $id, patch: $patch) {
  id } }"""


def _twin(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without what differs between the twins (their ids, links and hrefs)."""
    kept = {k: v for k, v in doc.items() if k not in ("id", "links", "collection")}
    if "assets" in kept:
        kept["assets"] = {k: {**a, "href": None} for k, a in kept["assets"].items()}
    return kept


async def _read(gql: GraphQL, path: str) -> dict[str, Any]:
    response = await gql.client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_collection_created_replaced_and_patched_is_the_same_from_either_api(
    scratch_gql: GraphQL,
) -> None:
    created = await scratch_gql.client.post("/collections", json=a_collection("by-stac"))
    assert created.status_code == 201, created.text
    await scratch_gql.data(CREATE, stac=a_collection("by-graphql"))
    changed = {**a_collection(), "title": "Changed", "keywords": ["x"]}
    replaced = await scratch_gql.client.put(
        "/collections/by-stac", json={**changed, "id": "by-stac"}
    )
    assert replaced.status_code in (200, 204), replaced.text
    await scratch_gql.data(REPLACE, id="by-graphql", stac={**changed, "id": "by-graphql"})
    patch = {"description": "Patched", "keywords": None}
    patched = await scratch_gql.client.patch("/collections/by-stac", json=patch)
    assert patched.status_code in (200, 204), patched.text
    await scratch_gql.data(PATCH, id="by-graphql", patch=patch)

    by_stac = await _read(scratch_gql, "/collections/by-stac")
    by_graphql = await _read(scratch_gql, "/collections/by-graphql")
    assert by_stac["description"] == "Patched" and "keywords" not in by_stac
    assert _twin(by_graphql) == _twin(by_stac)


async def test_items_written_and_deleted_are_the_same_from_either_api(
    scratch_gql: GraphQL,
) -> None:
    await scratch_gql.data(CREATE, stac=a_collection())
    one = an_item("by-stac", 1, "2021-03-04T05:06:07Z", 12.5)
    many = an_item("bulk-stac", 3, "2022-01-01T00:00:00Z", 3)
    bulk = {"type": "FeatureCollection", "features": [many]}
    assert (await scratch_gql.client.post("/collections/scenes/items", json=one)).is_success
    assert (await scratch_gql.client.post("/collections/scenes/items", json=bulk)).is_success
    await scratch_gql.data(UPSERT, items=[
        {**one, "id": "by-graphql"}, {**many, "id": "bulk-graphql"},
    ])
    for stac_id, graphql_id in (("by-stac", "by-graphql"), ("bulk-stac", "bulk-graphql")):
        by_stac = await _read(scratch_gql, f"/collections/scenes/items/{stac_id}")
        by_graphql = await _read(scratch_gql, f"/collections/scenes/items/{graphql_id}")
        assert _twin(by_graphql) == _twin(by_stac)

    deleted = await scratch_gql.client.delete("/collections/scenes/items/by-stac")
    assert deleted.status_code == 204
    gone = 'mutation { deleteItem(collectionId: "scenes", id: "by-graphql") }'
    assert await scratch_gql.data(gone) == {"deleteItem": True}
    for item_id in ("by-stac", "by-graphql"):
        response = await scratch_gql.client.get(f"/collections/scenes/items/{item_id}")
        assert response.status_code == 404


async def test_deleting_from_a_missing_collection_fails_the_same_way_in_either_api(
    scratch_gql: GraphQL,
) -> None:
    response = await scratch_gql.client.delete("/collections/nowhere/items/x")
    codes = await scratch_gql.error_codes(
        'mutation { deleteItem(collectionId: "nowhere", id: "x") }'
    )
    # Each API names the failure its own way: STAC the exact error, GraphQL its kind.
    assert (response.status_code, response.json()["code"]) == (404, "UNKNOWN_COLLECTION")
    assert codes == ["NOT_FOUND"]
