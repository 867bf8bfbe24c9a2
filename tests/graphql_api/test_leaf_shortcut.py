"""Leaf fields resolved in one step (``graphql_api.execution``) answer exactly what
graphql-core's per-field path answers: two apps on one catalog, one with the shortcut and
one without (``STACQL_GRAPHQL_LEAF_SHORTCUT=false``), asked the same documents by the
same callers, give the same bodies. The documents select every kind of field, with
aliases, fragments, ``@include``/``@skip``, ``__typename``, request and field errors
(null where the type forbids it, a string where a list belongs), over a public and a
private collection whose stored assets' hrefs are rewritten, and signed for callers with
a key. Objects completed in one step (a page's items with their assets and collection,
``at_once`` fields) are compared the same way, beside the same fields with arguments and
items that did not come from a page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import create_key, set_private
from catalog.storage import LocalAssetStore
from stacql.settings import GraphQLSettings
from tests.graphql_api.conftest import app_settings
from tests.support.access import admin_key
from tests.support.app_client import app_client
from tests.support.documents import post_world
from tests.support.paths import RASTERS

COG = RASTERS / "rio-tiler" / "cog.tif"
ODD_PROVIDERS = [
    {"name": None, "roles": "host", "url": 5},  # null name, a string for a list
    {"name": "fine", "roles": ["host", 3], "url": "https://example.com"},
]


def _item(collection_id: str, number: int, store: LocalAssetStore) -> dict[str, Any]:
    x = float(number)
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": f"{collection_id}-{number}",
        "collection": collection_id,
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
        "geometry": {"type": "Polygon",
                     "coordinates": [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]]},
        "bbox": [x, 0, x + 1, 1],
        "properties": {"datetime": f"2024-05-0{number}T00:00:00Z", "eo:cloud_cover": 10 * number,
                       "platform": "p", "nested": {"a": [1, None, "x"]}},
        "links": [{"rel": "license", "href": "https://example.com/license", "title": "L"}],
        "assets": {
            # proj:code marks the item complete, so no extraction job is queued.
            "data": {"href": store.href("c/cog.tif"), "type": "image/tiff; application=geotiff",
                     "roles": ["data"], "proj:code": "EPSG:4326", "file:size": 1234},
            "thumb": {"href": "https://example.com/t.png", "title": "Thumb",
                      "description": "small", "file:size": "big"},
            "meta": {"href": "https://example.com/m.xml", "roles": ["metadata", "extra"],
                     "type": "application/xml"},
        },
    }


@dataclass
class Apps:
    """The same catalog behind two apps: ``fast`` (the shortcut) and ``plain``."""

    fast: httpx.AsyncClient
    plain: httpx.AsyncClient
    callers: dict[str, dict[str, str]]


@pytest.fixture
async def apps(
    scratch_url: str, scratch_sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[Apps]:
    store = LocalAssetStore(tmp_path / "store")
    await store.put("c/cog.tif", COG.read_bytes())
    fast = app_settings(scratch_url, store.root)
    plain = fast.model_copy(update={"graphql": GraphQLSettings(leaf_shortcut=False)})
    admin = await admin_key(scratch_sessions)
    async with app_client(fast) as (_, fast_client), app_client(plain) as (_, plain_client):
        headers = {"X-API-Key": admin}
        items = [_item(cid, n, store) for cid in ("open", "secret") for n in (1, 2, 3)]
        await post_world(fast_client, items, headers)
        odd = {"type": "Collection", "stac_version": "1.1.0", "id": "odd",
               "description": "odd", "license": "other", "links": [],
               "keywords": ["a"], "providers": ODD_PROVIDERS,
               "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                          "temporal": {"interval": [[None, None]]}}}
        made = await fast_client.post("/graphql", headers=headers, json={
            "query": "mutation($stac: JSON) { createCollection(stac: $stac) { id } }",
            "variables": {"stac": odd},
        })
        assert made.json() == {"data": {"createCollection": {"id": "odd"}}}, made.text
        async with scratch_sessions() as session, session.begin():
            await set_private(session, "secret", True)
            _, reader = await create_key(session, "reader", "read", "secret")
        yield Apps(fast_client, plain_client,
                   {"anonymous": {}, "reader": {"X-API-Key": reader}, "admin": headers})


ITEM_FIELDS = """id collectionId datetime startDatetime endDatetime geometry bbox properties
  stacVersion stacExtensions property(name: "eo:cloud_cover") links { rel href type title method }
  stac"""
ASSET_FIELDS = """key collectionId itemId href mediaType title description roles size stac
  field(name: "file:size")"""
COLLECTION_FIELDS = """id title description license keywords summaries itemAssets stacVersion
  stacExtensions extent { spatial { bbox } temporal { interval } } links { rel href }"""

DOCUMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "every field": (f"""query($first: Int) {{ items(first: $first) {{
        nodes {{ {ITEM_FIELDS} assets {{ {ASSET_FIELDS} }} asset(key: "data") {{ href roles }}
                 collection {{ {COLLECTION_FIELDS} }} }}
        pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}""",
                    {"first": 10}),
    "aliases and typenames": ("""{
        a: items(first: 3) { __typename edges { cursor n: node { __typename ident: id
            c: collectionId when: datetime id again: id
            files: assets { __typename k: key h: href r: roles key }
            data: assets(roles: ["data"]) { key href } } } }
        b: items(first: 2, sortBy: [{field: "eo:cloud_cover", direction: DESC}]) {
            nodes { id c: property(name: "eo:cloud_cover") } } }""", {}),
    "fragments, include and skip": ("""query($on: Boolean!, $off: Boolean!) {
        items(first: 6) { nodes { ...itemPart ... on Item { bbox @include(if: $on) }
            assets { ...assetPart href @skip(if: $off) } } } }
        fragment itemPart on Item { id datetime @skip(if: $on) properties @include(if: $on)
            collection { ... on Collection { id title @include(if: $off) } } }
        fragment assetPart on Asset { key roles mediaType @include(if: $off) __typename }""",
                                    {"on": True, "off": False}),
    "fragments, the other way": ("""query($on: Boolean!, $off: Boolean!) {
        items(first: 6) { nodes { ...itemPart ... on Item { bbox @include(if: $on) }
            assets { ...assetPart href @skip(if: $off) } } } }
        fragment itemPart on Item { id datetime @skip(if: $on) properties @include(if: $on)
            collection { ... on Collection { id title @include(if: $off) } } }
        fragment assetPart on Asset { key roles mediaType @include(if: $off) __typename }""",
                                 {"on": False, "off": True}),
    "root assets": ("""{ assets(first: 20) { edges { cursor node { key href roles stac
        item { id collectionId } } } pageInfo { hasNextPage endCursor } } }""", {}),
    "collections": (f"""{{ collections {{ totalCount nodes {{ {COLLECTION_FIELDS}
        items(first: 2) {{ nodes {{ id assets {{ key href }} }} }} }} }} }}""", {}),
    "one item of the private collection": ("""{ item(collectionId: "secret", id: "secret-2") {
        id assets { key href } collection { id } } }""", {}),
    "null for a non-null leaf, a string for a list": ("""{ collection(id: "odd") {
        id keywords providers { name roles url } } }""", {}),
    "the fine provider only": ("""{ collection(id: "odd") { id
        providers { roles url } } }""", {}),
    "an error beside plain fields": ("""{ collection(id: "open") { id title
        items(first: 5000) { nodes { id } } } }""", {}),
    "a refused page size": ("{ items(first: 0) { nodes { id } } }", {}),
    "an unknown field": ("{ items(first: 2) { nodes { id nope } } }", {}),
    # Objects completed in one step (issue 17): pages whose items select their assets and
    # collection, beside fields that go to graphql-core, and items that did not come
    # from a page (their assets and collection are not loaded first).
    "edges, cursors and page info": ("""{ items(first: 4) { totalCount
        edges { cursor node { id assets { key href } collection { id title } } }
        pageInfo { hasNextPage startCursor endCursor } } }""", {}),
    "assets with and without arguments": ("""{ items(first: 6) { nodes { id
        all: assets { key roles } data: assets(roles: ["data"]) { key href }
        one: asset(key: "thumb") { key title } none: asset(key: "nope") { key }
        assets { item { id } } } } }""", {}),
    "the collections searched, one of them private": ("""{ items(first: 10,
        match: {collections: ["secret", "open", "nope"]}) {
        nodes { id collection { id license } assets { key href } } } }""", {}),
    "items without a collection filter": ("""{ items(first: 10) {
        nodes { collectionId collection { id keywords } } } }""", {}),
    "items of collections": ("""{ collections { nodes { id items(first: 2) {
        edges { cursor node { id collection { id } assets { href } } } } } } }""", {}),
    "one item, not from a page": ("""{ item(collectionId: "open", id: "open-2") {
        id assets { key href roles } collection { id } } }""", {}),
    "include and skip on objects": ("""query($on: Boolean!, $off: Boolean!) {
        items(first: 6) { nodes { id assets @include(if: $on) { key href @skip(if: $on) }
            collection @skip(if: $on) { id }
            ... on Item { collection @include(if: $on) { title @include(if: $off) id } } } } }""",
                                    {"on": True, "off": False}),
}
GRANT = re.compile(r"token=[A-Za-z0-9_\-.]+")


def _unsigned(text: str) -> str:
    """The body with each href's signed grant replaced: the two apps sign in different
    seconds, so their grants expire at different times (the grants are followed in the
    test below)."""
    return GRANT.sub("token=GRANT", text)


async def _ask(client: httpx.AsyncClient, document: str, variables: dict[str, Any],
               headers: dict[str, str]) -> httpx.Response:
    return await client.post("/graphql", headers=headers,
                             json={"query": document, "variables": variables})


@pytest.mark.parametrize("caller", ["anonymous", "reader", "admin"])
async def test_the_shortcut_answers_what_graphql_core_answers(apps: Apps, caller: str) -> None:
    headers = apps.callers[caller]
    for name, (document, variables) in DOCUMENTS.items():
        fast = await _ask(apps.fast, document, variables, headers)
        plain = await _ask(apps.plain, document, variables, headers)
        assert fast.status_code == plain.status_code, name
        assert orjson.loads(_unsigned(fast.text)) == orjson.loads(_unsigned(plain.text)), (
            caller, name
        )


async def test_the_compared_answers_hold_what_they_should(apps: Apps) -> None:
    """The comparison above is not between two empty or failed answers."""
    document, variables = DOCUMENTS["every field"]
    for caller, collections in (("anonymous", {"open"}), ("reader", {"open", "secret"})):
        body = (await _ask(apps.fast, document, variables, apps.callers[caller])).json()
        nodes = body["data"]["items"]["nodes"]
        assert "errors" not in body and {n["collectionId"] for n in nodes} == collections
        hrefs = {a["key"]: a["href"] for n in nodes for a in n["assets"]}
        assert hrefs["thumb"] == "https://example.com/t.png"
        assert hrefs["data"].startswith("http://stacql.test/collections/")
        assert ("?token=" in hrefs["data"]) == (caller == "reader")
        assert "file:///" not in str(body)
        # A signed href is followed without headers.
        assert (await apps.fast.get(hrefs["data"])).status_code == 200
        assert nodes[0]["assets"][0]["stac"]["href"] == nodes[0]["assets"][0]["href"]
        sizes = {a["key"]: a["size"] for a in nodes[0]["assets"]}
        assert sizes == {"data": 1234.0, "thumb": None, "meta": None}

    odd = (await _ask(apps.fast, *DOCUMENTS["null for a non-null leaf, a string for a list"],
                      {})).json()
    assert odd["data"] == {"collection": None}
    # The null name nulls its (non-null) provider, the providers, then the collection.
    assert [e["path"] for e in odd["errors"]] == [["collection", "providers", 0, "name"]]
    fine = (await _ask(apps.fast, *DOCUMENTS["the fine provider only"], {})).json()
    assert fine["data"]["collection"]["providers"][1] == {
        "roles": ["host", "3"], "url": "https://example.com"
    }
    assert [e["path"] for e in fine["errors"]] == [["collection", "providers", 0, "roles"]]


async def test_pages_completed_in_one_step_hold_their_related_objects(apps: Apps) -> None:
    """The documents of objects completed in one step answer what they should: the
    comparison above is not between two empty or failed answers."""
    for name in ("edges, cursors and page info", "assets with and without arguments",
                 "the collections searched, one of them private",
                 "items without a collection filter", "items of collections",
                 "one item, not from a page", "include and skip on objects"):
        for caller in ("anonymous", "reader"):
            body = (await _ask(apps.fast, *DOCUMENTS[name], apps.callers[caller])).json()
            assert "errors" not in body and body["data"], (name, caller, body)

    reader = apps.callers["reader"]
    searched = (await _ask(apps.fast, *DOCUMENTS["the collections searched, one of them "
                                                 "private"], reader)).json()
    nodes = searched["data"]["items"]["nodes"]
    assert {n["id"].split("-")[0] for n in nodes} == {"open", "secret"}
    assert all(n["collection"]["id"] == n["id"].split("-")[0] for n in nodes)
    assert all({a["key"] for a in n["assets"]} == {"data", "thumb", "meta"} for n in nodes)
    anonymous = (await _ask(apps.fast, *DOCUMENTS["the collections searched, one of them "
                                                  "private"], {})).json()
    assert {n["collection"]["id"] for n in anonymous["data"]["items"]["nodes"]} == {"open"}

    page = (await _ask(apps.fast, *DOCUMENTS["edges, cursors and page info"], reader)).json()
    edges, info = page["data"]["items"]["edges"], page["data"]["items"]["pageInfo"]
    assert len(edges) == 4 and info["hasNextPage"]
    assert (info["startCursor"], info["endCursor"]) == (edges[0]["cursor"], edges[-1]["cursor"])
    # Each edge's cursor (encoded when asked for) continues right after its item.
    for index in (0, 2):
        after = (await _ask(apps.fast, "query($after: String) { items(first: 1, after: $after) "
                            "{ nodes { id } } }", {"after": edges[index]["cursor"]},
                            reader)).json()
        assert after["data"]["items"]["nodes"] == [{"id": edges[index + 1]["node"]["id"]}]

    one = (await _ask(apps.fast, *DOCUMENTS["one item, not from a page"], {})).json()
    assert one["data"]["item"]["collection"] == {"id": "open"}
    assert [a["key"] for a in one["data"]["item"]["assets"]] == ["data", "thumb", "meta"]
    both = (await _ask(apps.fast, *DOCUMENTS["include and skip on objects"], {})).json()
    first = both["data"]["items"]["nodes"][0]
    assert first["collection"] == {"id": "open"} and set(first["assets"][0]) == {"key"}
