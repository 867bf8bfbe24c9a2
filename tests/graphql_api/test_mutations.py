"""Mutations on an empty catalog: collections, items, and what the search sees after."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson

from tests.graphql_api.conftest import GraphQL
from tests.support.paths import DATA

ITEMS_FILE = DATA / "stac/stac-spec-examples-1.1.0/extended-item.json"


def a_collection(collection_id: str = "scenes") -> dict[str, Any]:
    """A minimal valid STAC 1.1 collection."""
    return {
        "type": "Collection", "stac_version": "1.1.0", "id": collection_id,
        "description": "Scenes for tests", "license": "CC-BY-4.0",
        "extent": {"spatial": {"bbox": [[-10, -10, 10, 10]]},
                   "temporal": {"interval": [["2020-01-01T00:00:00Z", None]]}},
        "links": [],
    }


def an_item(item_id: str, x: float, when: str, cloud: float, collection: str = "scenes") -> dict:
    """A small square item at (x, 0)."""
    ring = [[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": item_id, "collection": collection,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "bbox": [x, 0, x + 1, 1],
        "properties": {"datetime": when, "eo:cloud_cover": cloud},
        "assets": {"data": {"href": f"https://example.com/{item_id}.tif",
                            "type": "image/tiff; application=geotiff", "roles": ["data"]}},
        "links": [],
    }


CREATE = """mutation($stac: JSON) { createCollection(stac: $stac) { id title license
  extent { spatial { bbox } } } }"""
UPSERT = """mutation($items: [JSON!]!, $collectionId: String) {
  upsertItems(items: $items, collectionId: $collectionId) { inserted updated unchanged ids } }"""


async def test_create_collection_from_typed_input_then_read_it(scratch_gql: GraphQL) -> None:
    data = await scratch_gql.data("""mutation { createCollection(input: {
        id: "typed", description: "Typed input", license: "MIT", title: "Typed",
        keywords: ["a", "b"], providers: [{name: "Us", roles: ["host"]}]}) {
          id title license keywords providers { name roles } } }""")
    assert data["createCollection"] == {
        "id": "typed", "title": "Typed", "license": "MIT", "keywords": ["a", "b"],
        "providers": [{"name": "Us", "roles": ["host"]}],
    }
    response = await scratch_gql.client.get("/collections/typed")
    assert response.status_code == 200
    assert response.json()["title"] == "Typed"


async def test_collection_stac_equals_the_stac_api_document(scratch_gql: GraphQL) -> None:
    await scratch_gql.data(CREATE, stac=a_collection())
    data = await scratch_gql.data('{ collection(id: "scenes") { stac } }')
    served = (await scratch_gql.client.get("/collections/scenes")).json()
    assert data["collection"]["stac"] == served


async def test_creating_a_collection_twice_is_a_conflict(scratch_gql: GraphQL) -> None:
    await scratch_gql.data(CREATE, stac=a_collection())
    assert await scratch_gql.error_codes(CREATE, stac=a_collection()) == ["CONFLICT"]


async def test_update_and_patch_and_delete_a_collection(scratch_gql: GraphQL) -> None:
    await scratch_gql.data(CREATE, stac=a_collection())
    replaced = {**a_collection(), "title": "Replaced"}
    data = await scratch_gql.data(
        'mutation($stac: JSON) { updateCollection(id: "scenes", stac: $stac) { title } }',
        stac=replaced,
    )
    assert data["updateCollection"]["title"] == "Replaced"
    data = await scratch_gql.data(
        'mutation { updateCollection(id: "scenes", patch: {title: "Patched"}) { title license } }'
    )
    assert data["updateCollection"] == {"title": "Patched", "license": "CC-BY-4.0"}
    assert (await scratch_gql.data('mutation { deleteCollection(id: "scenes") }')) == {
        "deleteCollection": True
    }
    assert (await scratch_gql.data('{ collection(id: "scenes") { id } }')) == {"collection": None}
    codes = await scratch_gql.error_codes('mutation { deleteCollection(id: "scenes") }')
    assert codes == ["NOT_FOUND"]


async def test_upsert_items_then_search_and_second_upsert_changes_nothing(
    scratch_gql: GraphQL,
) -> None:
    await scratch_gql.data(CREATE, stac=a_collection())
    items = [an_item(f"s{i}", i, f"2021-0{i + 1}-01T00:00:00Z", 10.0 * i) for i in range(5)]
    data = await scratch_gql.data(UPSERT, items=items)
    assert data["upsertItems"] == {
        "inserted": 5, "updated": 0, "unchanged": 0, "ids": ["s0", "s1", "s2", "s3", "s4"]
    }
    again = await scratch_gql.data(UPSERT, items=items)
    assert again["upsertItems"]["unchanged"] == 5
    found = await scratch_gql.data("""{ items(bbox: [1.5, 0.2, 3.5, 0.8],
        sortBy: [{field: "datetime", direction: ASC}]) {
          nodes { id property(name: "eo:cloud_cover") } } }""")
    assert found["items"]["nodes"] == [
        {"id": "s1", "property": 10.0}, {"id": "s2", "property": 20.0},
        {"id": "s3", "property": 30.0},
    ]
    # The collection's extent followed the items.
    extent = await scratch_gql.data('{ collection(id: "scenes") { extent { spatial { bbox } } } }')
    assert extent["collection"]["extent"]["spatial"]["bbox"][0] == [-10.0, -10.0, 10.0, 10.0]


async def test_items_default_to_the_given_collection(scratch_gql: GraphQL) -> None:
    await scratch_gql.data(CREATE, stac=a_collection())
    item = an_item("loose", 0, "2021-01-01T00:00:00Z", 1.0)
    del item["collection"]
    data = await scratch_gql.data(UPSERT, items=[item], collectionId="scenes")
    assert data["upsertItems"]["inserted"] == 1


async def test_a_bad_item_writes_nothing(scratch_gql: GraphQL) -> None:
    await scratch_gql.data(CREATE, stac=a_collection())
    good = an_item("good", 0, "2021-01-01T00:00:00Z", 1.0)
    bowtie = an_item("bowtie", 2, "2021-01-01T00:00:00Z", 1.0)
    bowtie["geometry"]["coordinates"] = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]
    body = await scratch_gql.post(UPSERT, items=[good, bowtie])
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "bowtie" in body["errors"][0]["message"]
    unknown = an_item("elsewhere", 0, "2021-01-01T00:00:00Z", 1.0, collection="nope")
    assert await scratch_gql.error_codes(UPSERT, items=[unknown]) == ["NOT_FOUND"]
    found = await scratch_gql.data("{ items { nodes { id } } }")
    assert found["items"]["nodes"] == []


async def test_delete_item(scratch_gql: GraphQL) -> None:
    await scratch_gql.data(CREATE, stac=a_collection())
    await scratch_gql.data(UPSERT, items=[an_item("gone", 0, "2021-01-01T00:00:00Z", 1.0)])
    delete = 'mutation { deleteItem(collectionId: "scenes", id: "gone") }'
    assert await scratch_gql.data(delete) == {"deleteItem": True}
    assert await scratch_gql.error_codes(delete) == ["NOT_FOUND"]
    response = await scratch_gql.client.get("/collections/scenes/items/gone")
    assert response.status_code == 404


async def test_real_items_round_trip_to_the_stac_api(scratch_gql: GraphQL) -> None:
    source = orjson.loads(ITEMS_FILE.read_bytes())
    features = source.get("features", [source])
    collection_ids = sorted({f["collection"] for f in features})
    for cid in collection_ids:
        await scratch_gql.data(CREATE, stac=a_collection(cid))
    await scratch_gql.data(UPSERT, items=copy.deepcopy(features))
    first = features[0]
    data = await scratch_gql.data(
        "query($c: String!, $i: String!) { item(collectionId: $c, id: $i) { stac } }",
        c=first["collection"], i=first["id"],
    )
    served = await scratch_gql.client.get(f"/collections/{first['collection']}/items/{first['id']}")
    assert data["item"]["stac"] == served.json()
    assert json.dumps(data["item"]["stac"]["assets"], sort_keys=True) == json.dumps(
        first["assets"], sort_keys=True
    )
