"""Stored assets through the API: public hrefs, bytes with ranges and validators, access."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from catalog.access import create_key, revoke_key, set_private
from catalog.access.signing import AssetSigner, stored_signing_secret
from catalog.storage import LocalAssetStore
from stacql.settings import (
    ApiSettings,
    AssetSettings,
    DatabaseSettings,
    Settings,
    StorageSettings,
)
from tests.support.access import admin_key
from tests.support.app_client import app_client
from tests.support.documents import post_world
from tests.support.paths import RASTERS

COG = RASTERS / "rio-tiler" / "cog.tif"
EXTERNAL = "https://example.com/data/scene.tif"


def _item(collection_id: str, item_id: str, store: LocalAssetStore, key: str) -> dict:
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": item_id, "collection": collection_id,
        "geometry": {"type": "Point", "coordinates": [10.0, 50.0]}, "bbox": [10, 50, 10, 50],
        "properties": {"datetime": "2024-05-01T00:00:00Z"}, "links": [],
        "assets": {
            # proj:code marks the item complete, so no extraction job is queued.
            "data": {"href": store.href(key), "type": "image/tiff; application=geotiff",
                     "roles": ["data"], "proj:code": "EPSG:4326"},
            "external": {"href": EXTERNAL, "roles": ["overview"]},
        },
    }


@dataclass
class Catalog:
    """A scratch catalog over a local store holding one COG, with an admin client."""

    client: httpx.AsyncClient
    store: LocalAssetStore
    sessions: object
    admin: str


@pytest.fixture
async def catalog(scratch_url, scratch_sessions, tmp_path: Path) -> AsyncIterator[Catalog]:
    store = LocalAssetStore(tmp_path / "store")
    await store.put("c1/cog.tif", COG.read_bytes())
    settings = Settings(
        database=DatabaseSettings(url=scratch_url),
        storage=StorageSettings(url=str(store.root)),
    )
    admin = await admin_key(scratch_sessions)
    async with app_client(settings) as (_, client):
        items = [_item(cid, "i1", store, "c1/cog.tif") for cid in ("c1", "secret")]
        await post_world(client, items, {"X-API-Key": admin})
        async with scratch_sessions() as session, session.begin():
            await set_private(session, "secret", True)
        yield Catalog(client, store, scratch_sessions, admin)


ASSET = "/collections/c1/items/i1/assets/data"
PRIVATE_ASSET = "/collections/secret/items/i1/assets/data"


async def test_item_hrefs_of_stored_assets_are_api_urls(catalog: Catalog) -> None:
    response = await catalog.client.get("/collections/c1/items/i1")
    assets = response.json()["assets"]
    assert assets["data"]["href"] == f"http://stacql.test{ASSET}"
    assert assets["external"]["href"] == EXTERNAL
    assert "file:" not in response.text and str(catalog.store.root) not in response.text


async def test_search_pages_rewrite_hrefs_on_both_paths(catalog: Catalog) -> None:
    for url in ("/search?collections=c1", "/collections/c1/items",
                "/search?collections=c1&fields=assets,id"):
        response = await catalog.client.get(url)
        feature = response.json()["features"][0]
        assert feature["assets"]["data"]["href"] == f"http://stacql.test{ASSET}", url
        assert "file:" not in response.text, url


async def test_asset_bytes_are_the_stored_file(catalog: Catalog) -> None:
    response = await catalog.client.get(ASSET)
    assert response.status_code == 200
    assert response.content == COG.read_bytes()
    assert response.headers["content-type"].startswith("image/tiff")
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] and response.headers["last-modified"]


async def test_head_sends_headers_only(catalog: Catalog) -> None:
    response = await catalog.client.head(ASSET)
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) == COG.stat().st_size


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=0-99", 0, 100), ("bytes=1000-", 1000, None), ("bytes=-500", -500, None)],
)
async def test_single_range_is_partial_content(
    catalog: Catalog, header: str, start: int, stop: int | None
) -> None:
    data = COG.read_bytes()
    response = await catalog.client.get(ASSET, headers={"Range": header})
    expected = data[start:stop]
    assert response.status_code == 206
    assert response.content == expected
    first = start if start >= 0 else len(data) + start
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    )


async def test_multiple_ranges_are_multipart(catalog: Catalog) -> None:
    data = COG.read_bytes()
    response = await catalog.client.get(ASSET, headers={"Range": "bytes=0-9,100-109"})
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges")
    assert data[0:10] in response.content and data[100:110] in response.content


async def test_range_past_the_end_is_416_with_a_json_body(catalog: Catalog) -> None:
    size = COG.stat().st_size
    response = await catalog.client.get(ASSET, headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.json()["code"] == "RANGE_NOT_SATISFIABLE"


async def test_malformed_range_is_400_with_a_json_body(catalog: Catalog) -> None:
    response = await catalog.client.get(ASSET, headers={"Range": "lines=1-2"})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_RANGE"


async def test_conditional_requests_answer_304(catalog: Catalog) -> None:
    first = await catalog.client.get(ASSET)
    by_tag = await catalog.client.get(ASSET, headers={"If-None-Match": first.headers["etag"]})
    by_date = await catalog.client.get(
        ASSET, headers={"If-Modified-Since": first.headers["last-modified"]}
    )
    other_tag = await catalog.client.get(ASSET, headers={"If-None-Match": '"other"'})
    assert by_tag.status_code == 304 and by_tag.content == b""
    assert by_date.status_code == 304
    assert other_tag.status_code == 200


async def test_private_asset_is_invisible_without_credentials(catalog: Catalog) -> None:
    response = await catalog.client.get(PRIVATE_ASSET)
    assert response.status_code == 404
    assert response.json()["code"] == "UNKNOWN_COLLECTION"
    assert COG.read_bytes()[:100] not in response.content


async def test_private_asset_is_served_with_a_key(catalog: Catalog) -> None:
    response = await catalog.client.get(PRIVATE_ASSET, headers={"X-API-Key": catalog.admin})
    assert response.status_code == 200 and response.content == COG.read_bytes()


async def _signed_href(catalog: Catalog, key: str) -> str:
    item = await catalog.client.get("/collections/secret/items/i1", headers={"X-API-Key": key})
    return item.json()["assets"]["data"]["href"]


async def test_signed_href_reads_without_headers(catalog: Catalog) -> None:
    href = await _signed_href(catalog, catalog.admin)
    assert href.startswith(f"http://stacql.test{PRIVATE_ASSET}?token=")
    response = await catalog.client.get(href)
    assert response.status_code == 200 and response.content == COG.read_bytes()


async def test_tampered_signed_href_is_refused(catalog: Catalog) -> None:
    href = await _signed_href(catalog, catalog.admin)
    forged = href[:-3] + ("AAA" if not href.endswith("AAA") else "BBB")
    response = await catalog.client.get(forged)
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHORIZED"


async def test_expired_signed_href_is_refused(catalog: Catalog) -> None:
    async with catalog.sessions() as session, session.begin():
        secret = await stored_signing_secret(session)
        record, _ = await create_key(session, "reader", "read")
    signer = AssetSigner(secret, ttl_seconds=60)
    stale = signer.grant(record.principal(), now=time.time() - 120)
    response = await catalog.client.get(f"{PRIVATE_ASSET}?token={stale}")
    fresh = await catalog.client.get(f"{PRIVATE_ASSET}?token={signer.grant(record.principal())}")
    assert response.status_code == 401 and "expired" in response.json()["description"]
    assert fresh.status_code == 200


async def test_revoking_a_key_stops_its_signed_hrefs(catalog: Catalog) -> None:
    async with catalog.sessions() as session, session.begin():
        _, token = await create_key(session, "short-lived", "read", "secret")
    href = await _signed_href(catalog, token)
    before = await catalog.client.get(href)
    async with catalog.sessions() as session, session.begin():
        await revoke_key(session, "short-lived")
    after = await catalog.client.get(href)
    assert before.status_code == 200
    assert after.status_code == 401


async def test_key_for_another_collection_gets_no_private_bytes(catalog: Catalog) -> None:
    async with catalog.sessions() as session, session.begin():
        _, token = await create_key(session, "c1-only", "read", "c1")
    href = await _signed_href(catalog, catalog.admin)
    headers = {"X-API-Key": token}
    response = await catalog.client.get(PRIVATE_ASSET, headers=headers)
    assert response.status_code == 404
    # The key's own headers decide; a grant lying around does not widen them.
    assert (await catalog.client.get(href, headers=headers)).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/collections/c1/items/i1/assets/..%2F..%2F..%2Fetc%2Fpasswd",
        "/collections/c1/items/i1/assets/../../../etc/passwd",
        "/collections/c1/items/i1/assets/%2e%2e",
        "/collections/c1/items/i1/assets/external",
        "/collections/c1/items/nope/assets/data",
    ],
)
async def test_hostile_or_unknown_asset_paths_are_not_found(catalog: Catalog, path: str) -> None:
    response = await catalog.client.get(path)
    assert response.status_code == 404
    assert set(response.json()) == {"code", "description"}


async def test_href_outside_the_store_is_never_read(catalog: Catalog) -> None:
    outside = catalog.store.root.parent / "outside.tif"
    outside.write_bytes(b"secret bytes")
    (catalog.store.root / "c1" / "link.tif").symlink_to(outside)
    item = _item("c1", "i2", catalog.store, "c1/link.tif")
    auth = {"X-API-Key": catalog.admin}
    assert (await catalog.client.post("/collections/c1/items", json=item, headers=auth)).is_success
    response = await catalog.client.get("/collections/c1/items/i2/assets/data")
    assert response.status_code in (400, 404)
    assert b"secret bytes" not in response.content


async def test_graphql_hrefs_are_api_urls(catalog: Catalog) -> None:
    query = """{ item(collectionId: "c1", id: "i1") {
        stac assets { key href stac } } }"""
    response = await catalog.client.post("/graphql", json={"query": query})
    item = response.json()["data"]["item"]
    hrefs = {a["key"]: a["href"] for a in item["assets"]}
    assert hrefs == {"data": f"http://stacql.test{ASSET}", "external": EXTERNAL}
    assert item["stac"]["assets"]["data"]["href"] == hrefs["data"]
    assert "file:" not in response.text


async def test_graphql_hrefs_of_private_assets_are_signed(catalog: Catalog) -> None:
    query = '{ item(collectionId: "secret", id: "i1") { assets { key href } } }'
    response = await catalog.client.post(
        "/graphql", json={"query": query}, headers={"X-API-Key": catalog.admin}
    )
    href = response.json()["data"]["item"]["assets"][0]["href"]
    assert "?token=" in href
    assert (await catalog.client.get(href)).content == COG.read_bytes()


async def test_configured_signing_secret_is_used(scratch_url, catalog: Catalog) -> None:
    settings = Settings(
        database=DatabaseSettings(url=scratch_url),
        storage=StorageSettings(url=str(catalog.store.root)),
        assets=AssetSettings(signing_secret="s" * 32),
    )
    async with app_client(settings, {"X-API-Key": catalog.admin}) as (_, other):
        href = (await other.get("/collections/secret/items/i1")).json()["assets"]["data"]["href"]
        # An empty key header makes the request anonymous: the grant alone decides.
        assert (await other.get(href, headers={"X-API-Key": ""})).status_code == 200
    # A grant of another secret is refused here.
    assert (await catalog.client.get(href)).status_code == 401


async def test_asset_bytes_are_sent_as_stored_not_recompressed(catalog: Catalog) -> None:
    headers = {"Accept-Encoding": "br, gzip", "Range": "bytes=0-999"}
    response = await catalog.client.get(ASSET, headers=headers)
    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == "1000"


async def test_hrefs_follow_the_public_url(scratch_url, catalog: Catalog) -> None:
    settings = Settings(
        database=DatabaseSettings(url=scratch_url),
        storage=StorageSettings(url=str(catalog.store.root)),
        api=ApiSettings(public_url="https://data.example.org/catalog"),
    )
    async with app_client(settings) as (_, client):
        item = (await client.get("/collections/c1/items/i1")).json()
        served = await client.get("/collections/c1/items/i1/assets/data")
    assert item["assets"]["data"]["href"] == f"https://data.example.org/catalog{ASSET}"
    assert served.status_code == 200 and served.content == COG.read_bytes()


async def test_accel_redirect_hands_the_file_to_nginx_after_the_access_check(
    scratch_url, catalog: Catalog
) -> None:
    settings = Settings(
        database=DatabaseSettings(url=scratch_url),
        storage=StorageSettings(url=str(catalog.store.root)),
        assets=AssetSettings(accel_redirect="/_store/"),
    )
    async with app_client(settings) as (_, client):
        public = await client.get(ASSET, headers={"Range": "bytes=0-99"})
        private = await client.get(PRIVATE_ASSET)
    assert public.status_code == 200 and public.content == b""
    assert public.headers["x-accel-redirect"] == "/_store/c1/cog.tif"
    assert public.headers["etag"]
    assert private.status_code == 404 and "x-accel-redirect" not in private.headers


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=0-99999999999999999999999", {206}),  # clipped to the end
        ("bytes=" + ",".join(f"{i}-{i}" for i in range(0, 400, 2)), {200}),  # too many: all
        ("bytes=5-1", {400}),
        ("bytes=--5", {400, 416}),
    ],
)
async def test_absurd_ranges_are_answered_without_harm(
    catalog: Catalog, header: str, status: set[int]
) -> None:
    response = await catalog.client.get(ASSET, headers={"Range": header})
    assert response.status_code in status
    if response.status_code >= 400:
        assert set(response.json()) == {"code", "description"}
    if status == {206}:
        assert response.content == COG.read_bytes()
