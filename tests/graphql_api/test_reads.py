"""Collections, assets and aggregations, checked against independent computations over
the STAC JSON the STAC API serves for the same catalog."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.graphql_api.conftest import GraphQL


async def all_stac_items(gql: GraphQL, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a STAC search, following ``next`` links."""
    features: list[dict[str, Any]] = []
    request: dict[str, Any] | None = {**body, "limit": 500}
    while request is not None:
        page = (await gql.client.post("/search", json=request)).json()
        features += page["features"]
        nxt = next((link for link in page["links"] if link["rel"] == "next"), None)
        request = nxt["body"] if nxt else None
    return features


async def test_collections_page_through_every_collection(gql: GraphQL) -> None:
    served = (await gql.client.get("/collections", params={"limit": 1000})).json()
    expected = sorted(c["id"] for c in served["collections"])
    found, after = [], None
    while True:
        data = await gql.data(
            "query($a: String) { collections(first: 3, after: $a) { totalCount "
            "pageInfo { hasNextPage endCursor } nodes { id } } }", a=after,
        )
        connection = data["collections"]
        found += [n["id"] for n in connection["nodes"]]
        assert connection["totalCount"] == len(expected)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert found == expected


async def test_collections_filtered_by_text(gql: GraphQL) -> None:
    data = await gql.data('{ collections(q: "naip") { nodes { id } } }')
    assert "naip" in [n["id"] for n in data["collections"]["nodes"]]


ASSETS = """query($c: [String!], $r: [String!], $m: String, $a: String) {
  assets(collections: $c, roles: $r, mediaType: $m, first: 40, after: $a) {
    pageInfo { hasNextPage endCursor }
    nodes { collectionId itemId key href roles mediaType } } }"""


@pytest.mark.parametrize(
    ("collections", "roles", "media_type"),
    [
        (["naip"], ["data"], None),
        (["naip"], None, "image/tiff"),
        (None, ["thumbnail"], None),
        (["joplin", "landsat-8-l1"], ["data", "metadata"], None),
    ],
)
async def test_assets_match_the_served_items(
    gql: GraphQL, collections: list[str] | None, roles: list[str] | None, media_type: str | None
) -> None:
    body = {"collections": collections} if collections else {}
    expected = sorted(
        (f["collection"], f["id"], key)
        for f in await all_stac_items(gql, body)
        for key, asset in f["assets"].items()
        if (not roles or set(roles) & set(asset.get("roles") or ()))
        and (media_type is None or (asset.get("type") or "").split(";")[0].strip() == media_type)
    )
    found, after = [], None
    while True:
        connection = (await gql.data(ASSETS, c=collections, r=roles, m=media_type, a=after))[
            "assets"
        ]
        found += [(n["collectionId"], n["itemId"], n["key"]) for n in connection["nodes"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert expected, "each case is chosen to find assets"
    assert found == expected


AGGREGATE = """query($c: [String!], $b: [Float!]) { aggregate(collections: $c, bbox: $b) {
  totalCount byCollection { key count } byTime(interval: YEAR) { key count }
  byProperty(name: "platform") { key count } } }"""


@pytest.mark.parametrize(
    ("collections", "bbox"),
    [(None, None), (["naip", "joplin"], None), (None, [-95.0, 30.0, -85.0, 38.0])],
)
async def test_aggregations_match_counts_over_the_served_items(
    gql: GraphQL, collections: list[str] | None, bbox: list[float] | None
) -> None:
    body: dict[str, Any] = {}
    if collections:
        body["collections"] = collections
    if bbox:
        body["bbox"] = bbox
    features = await all_stac_items(gql, body)
    result = (await gql.data(AGGREGATE, c=collections, b=bbox))["aggregate"]
    assert result["totalCount"] == len(features)
    assert {b["key"]: b["count"] for b in result["byCollection"]} == Counter(
        f["collection"] for f in features
    )

    def year(f: dict[str, Any]) -> str:
        props = f["properties"]
        return (props.get("datetime") or props["start_datetime"])[:4]

    assert {b["key"][:4]: b["count"] for b in result["byTime"]} == Counter(map(year, features))
    platforms = Counter(
        str(f["properties"]["platform"]) for f in features
        if isinstance(f["properties"].get("platform"), str)
    )
    assert {b["key"]: b["count"] for b in result["byProperty"]} == platforms


async def test_histogram_buckets_add_up(gql: GraphQL) -> None:
    features = await all_stac_items(gql, {})
    clouds = [
        f["properties"]["eo:cloud_cover"] for f in features
        if isinstance(f["properties"].get("eo:cloud_cover"), int | float)
    ]
    data = await gql.data(
        '{ aggregate { histogram(property: "eo:cloud_cover", buckets: 5) { from to count } } }'
    )
    buckets = data["aggregate"]["histogram"]
    assert sum(b["count"] for b in buckets) == len(clouds)
    assert buckets[0]["from"] == pytest.approx(min(clouds))
    assert buckets[-1]["to"] == pytest.approx(max(clouds))
    for bucket in buckets[:-1]:
        inside = [c for c in clouds if bucket["from"] <= c < bucket["to"]]
        assert bucket["count"] == len(inside)


async def test_collection_items_are_the_items_of_that_collection(gql: GraphQL) -> None:
    nested = await gql.data("""{ collection(id: "naip") { items(first: 30,
        sortBy: [{field: "id"}]) { nodes { id collectionId } } } }""")
    top = await gql.data("""{ items(collections: ["naip"], first: 30,
        sortBy: [{field: "id"}]) { nodes { id collectionId } } }""")
    assert nested["collection"]["items"]["nodes"] == top["items"]["nodes"]
    assert len(top["items"]["nodes"]) == 30


async def test_item_stac_and_links_are_what_the_stac_api_serves(gql: GraphQL) -> None:
    data = await gql.data("""{ items(first: 15, sortBy: [{field: "id"}]) {
        nodes { id collectionId stac links { rel href type } } } }""")
    for node in data["items"]["nodes"]:
        served = await gql.client.get(f"/collections/{node['collectionId']}/items/{node['id']}")
        assert node["stac"] == served.json()
        served_links = [
            {"rel": link["rel"], "href": link["href"], "type": link.get("type")}
            for link in served.json()["links"]
        ]
        assert node["links"] == served_links


async def test_the_item_of_an_asset_is_served_whole(gql: GraphQL) -> None:
    """An item reached through one of its assets (read by the item dataloader, not the
    page) serves the same STAC document as the item itself."""
    data = await gql.data("""{ items(first: 3, collections: ["naip", "joplin"]) {
        nodes { id stac assets { key item { id stac } } } } }""")
    nodes = data["items"]["nodes"]
    assert nodes and all(node["assets"] for node in nodes)
    for node in nodes:
        for asset in node["assets"]:
            assert asset["item"]["id"] == node["id"]
            assert asset["item"]["stac"] == node["stac"]
