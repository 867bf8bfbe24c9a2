"""Assets in object stores (S3 on moto's server, Azure Blob on Azurite) through the API:
presigned redirects, or streaming with ranges when signing is off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from catalog.access import set_private
from catalog.storage import ObjectAssetStore
from stacql.settings import AssetSettings, DatabaseSettings, Settings, StorageSettings
from tests.support.access import admin_key
from tests.support.app_client import app_client
from tests.support.documents import post_world
from tests.support.object_stores import azure_options, azurite_blob, moto_s3, s3_options
from tests.support.paths import RASTERS

COG = RASTERS / "rio-tiler" / "cog.tif"
ASSET = "/collections/c1/items/i1/assets/data"
PRIVATE_ASSET = "/collections/secret/items/i1/assets/data"
TTL_SECONDS = 600


@dataclass(frozen=True)
class Backend:
    name: str
    server: Callable[[], AbstractContextManager[str]]
    options: Callable[[str], dict[str, Any]]
    url: str

    def expiry_seconds(self, location: str) -> int | None:
        """The lifetime a presigned URL of this backend states, in seconds."""
        query = parse_qs(urlsplit(location).query)
        if self.name == "s3":
            return int(query["X-Amz-Expires"][0])
        start, end = (datetime.fromisoformat(query[k][0].replace("Z", "+00:00"))
                      for k in ("st", "se"))
        return int((end - start).total_seconds())


BACKENDS = [
    Backend("s3", moto_s3, s3_options, "s3://assets/catalog"),
    Backend("azure", azurite_blob, azure_options, "az://assets/catalog"),
]


@pytest.fixture(scope="module", params=BACKENDS, ids=lambda b: b.name)
def object_store(request: pytest.FixtureRequest) -> Iterator[tuple[Backend, str]]:
    backend: Backend = request.param
    with backend.server() as endpoint:
        yield backend, endpoint


def _item(collection_id: str, href: str) -> dict[str, Any]:
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": "i1", "collection": collection_id,
        "geometry": {"type": "Point", "coordinates": [10.0, 50.0]}, "bbox": [10, 50, 10, 50],
        "properties": {"datetime": "2024-05-01T00:00:00Z"}, "links": [],
        "assets": {"data": {"href": href, "type": "image/tiff", "roles": ["data"],
                            "proj:code": "EPSG:4326"}},
    }


def _settings(scratch_url: str, store_url: str, options: dict[str, Any], sign: bool) -> Settings:
    return Settings(
        database=DatabaseSettings(url=scratch_url),
        storage=StorageSettings(url=store_url, options=options),
        assets=AssetSettings(url_ttl_seconds=TTL_SECONDS, sign_object_urls=sign),
    )


@pytest.fixture(params=[True, False], ids=["signed", "streamed"])
async def served(
    request: pytest.FixtureRequest, object_store, scratch_url, scratch_sessions
) -> AsyncIterator[tuple[httpx.AsyncClient, str, bool, Backend]]:
    backend, endpoint = object_store
    options = backend.options(endpoint)
    store = ObjectAssetStore(backend.url, **options)
    await store.put("c1/cog.tif", COG.read_bytes())
    admin = await admin_key(scratch_sessions)
    auth = {"X-API-Key": admin}
    settings = _settings(scratch_url, backend.url, options, request.param)
    async with app_client(settings) as (_, client):
        items = [_item(cid, store.href("c1/cog.tif")) for cid in ("c1", "secret")]
        await post_world(client, items, auth)
        async with scratch_sessions() as session, session.begin():
            await set_private(session, "secret", True)
        yield client, admin, request.param, backend


async def test_item_href_is_the_api_url(served) -> None:
    client, _, _, _ = served
    href = (await client.get("/collections/c1/items/i1")).json()["assets"]["data"]["href"]
    assert href == f"http://stacql.test{ASSET}"


async def test_asset_bytes_reach_the_client(served) -> None:
    client, _, signed, backend = served
    response = await client.get(ASSET)
    if signed:
        assert response.status_code == 307
        location = response.headers["location"]
        assert backend.expiry_seconds(location) == TTL_SECONDS
        response = httpx.get(location)  # straight to the object store, as a client does
    assert response.status_code == 200
    assert response.content == COG.read_bytes()


async def test_ranges_reach_the_bytes(served) -> None:
    client, _, signed, _ = served
    data = COG.read_bytes()
    ranged = {"Range": "bytes=100-2099"}
    part = await client.get(ASSET, headers=ranged)
    if signed:  # the client sends its range again where the redirect points
        part = httpx.get(part.headers["location"], headers=ranged)
    assert part.status_code == 206 and part.content == data[100:2100]
    assert part.headers["content-range"] == f"bytes 100-2099/{len(data)}"


async def test_streamed_head_and_range_past_the_end(served) -> None:
    client, _, signed, _ = served
    size = COG.stat().st_size
    head = await client.head(ASSET)
    past = await client.get(ASSET, headers={"Range": f"bytes={size}-"})
    if signed:
        assert head.status_code == past.status_code == 307
        return
    assert head.status_code == 200 and int(head.headers["content-length"]) == size
    assert past.status_code == 416 and past.json()["code"] == "RANGE_NOT_SATISFIABLE"


async def test_private_object_needs_credentials(served) -> None:
    client, admin, signed, _ = served
    anonymous = await client.get(PRIVATE_ASSET)
    with_key = await client.get(PRIVATE_ASSET, headers={"X-API-Key": admin})
    assert anonymous.status_code == 404 and "location" not in anonymous.headers
    assert with_key.status_code == (307 if signed else 200)
