"""ObjectAssetStore on obstore's real in-memory store (``memory://``)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator

import pytest

from catalog.errors import InvalidStorageKey, NotFound, StorageError
from catalog.storage import ObjectAssetStore
from tests.catalog.storage.test_keys import HOSTILE_KEYS
from tests.support.paths import RASTERS

RASTER = RASTERS / "rasterio" / "RGB.byte.tif"


@pytest.fixture
def store() -> ObjectAssetStore:
    return ObjectAssetStore("memory://bucket/catalog/assets")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def chunks_then_failure(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    raise ConnectionResetError("client went away")


async def as_stream(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_bytes_round_trip(store: ObjectAssetStore) -> None:
    await store.put("a/b.bin", b"\x00\x01payload")
    assert await store.get("a/b.bin") == b"\x00\x01payload"


async def test_put_reports_key_href_and_size(store: ObjectAssetStore) -> None:
    stored = await store.put("./items//x.bin", b"12345")
    assert (stored.key, stored.href, stored.size) == (
        "items/x.bin",
        "memory://bucket/catalog/assets/items/x.bin",
        5,
    )


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("s3://bucket/prefix/", "s3://bucket/prefix/x.tif"),
        ("gs://bucket", "gs://bucket/x.tif"),
        ("memory://", "memory:///x.tif"),
    ],
)
def test_href_is_scheme_bucket_prefix_key(url: str, href: str) -> None:
    assert ObjectAssetStore(url).href("x.tif") == href


def test_azure_href_names_the_container() -> None:
    store = ObjectAssetStore("az://container/a/b", account_name="account")
    assert store.href("x.tif") == "az://container/a/b/x.tif"


async def test_raster_file_object_round_trip(store: ObjectAssetStore) -> None:
    with RASTER.open("rb") as file:
        stored = await store.put("rasters/RGB.byte.tif", file)
    expected = RASTER.read_bytes()
    assert stored.size == len(expected)
    assert sha256(await store.get("rasters/RGB.byte.tif")) == sha256(expected)


async def test_raster_async_stream_round_trip(store: ObjectAssetStore) -> None:
    expected = RASTER.read_bytes()
    stored = await store.put("rasters/RGB.byte.tif", as_stream(expected, 64 * 1024))
    received = [c async for c in store.open_stream("rasters/RGB.byte.tif")]
    assert stored.size == len(expected)
    assert sha256(b"".join(received)) == sha256(expected)


async def test_open_stream_chunks_stay_within_the_asked_size(store: ObjectAssetStore) -> None:
    await store.put("x.bin", io.BytesIO(RASTER.read_bytes()))
    sizes = [len(c) async for c in store.open_stream("x.bin", chunk_size=64 * 1024)]
    assert len(sizes) > 1
    assert max(sizes) <= 64 * 1024


async def test_empty_object_round_trip(store: ObjectAssetStore) -> None:
    stored = await store.put("empty.bin", b"")
    assert (stored.size, await store.get("empty.bin")) == (0, b"")


async def test_overwrite_replaces_content(store: ObjectAssetStore) -> None:
    await store.put("x.bin", b"old content, longer")
    await store.put("x.bin", b"new")
    assert await store.get("x.bin") == b"new"


async def test_get_missing_raises_not_found(store: ObjectAssetStore) -> None:
    with pytest.raises(NotFound, match=r"'nope\.bin'"):
        await store.get("nope.bin")


async def test_open_stream_missing_raises_not_found(store: ObjectAssetStore) -> None:
    with pytest.raises(NotFound):
        [c async for c in store.open_stream("nope.bin")]


async def test_exists_follows_put_and_delete(store: ObjectAssetStore) -> None:
    await store.put("x.bin", b"1")
    assert await store.exists("x.bin")
    await store.delete("x.bin")
    assert not await store.exists("x.bin")


async def test_delete_missing_raises_not_found(store: ObjectAssetStore) -> None:
    with pytest.raises(NotFound, match=r"'nope\.bin'"):
        await store.delete("nope.bin")


async def test_list_returns_every_key_sorted(store: ObjectAssetStore) -> None:
    for key in ["b/2.bin", "a/1.bin", "c.bin", "a/z/3.bin"]:
        await store.put(key, b"1")
    assert await store.list() == ["a/1.bin", "a/z/3.bin", "b/2.bin", "c.bin"]


async def test_list_prefix_matches_whole_segments(store: ObjectAssetStore) -> None:
    for key in ["a/1.bin", "ab/2.bin", "a/b/3.bin"]:
        await store.put(key, b"1")
    assert await store.list("a") == ["a/1.bin", "a/b/3.bin"]


async def test_list_without_store_prefix_returns_whole_paths() -> None:
    store = ObjectAssetStore("memory://")
    await store.put("a/1.bin", b"1")
    assert await store.list() == ["a/1.bin"]


async def test_failing_stream_stores_nothing(store: ObjectAssetStore) -> None:
    with pytest.raises(ConnectionResetError):
        await store.put("a/x.bin", chunks_then_failure(b"first", b"second"))
    assert await store.list() == []


async def test_failing_overwrite_keeps_the_old_object(store: ObjectAssetStore) -> None:
    await store.put("x.bin", b"old")
    with pytest.raises(ConnectionResetError):
        await store.put("x.bin", chunks_then_failure(b"new, half"))
    assert await store.get("x.bin") == b"old"


@pytest.mark.parametrize("key", HOSTILE_KEYS.values(), ids=HOSTILE_KEYS.keys())
async def test_put_refuses_hostile_key(store: ObjectAssetStore, key: str) -> None:
    with pytest.raises(InvalidStorageKey):
        await store.put(key, b"1")
    assert await store.list() == []


@pytest.mark.parametrize("method", ["get", "exists", "delete", "list", "href"])
async def test_every_method_refuses_a_parent_segment(store: ObjectAssetStore, method: str) -> None:
    with pytest.raises(InvalidStorageKey):
        result = getattr(store, method)("../outside")
        if method != "href":
            await result


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/assets",
        "file:///data/assets",
        "s3://",
        "s3://user:secret@bucket/prefix",
        "s3://bucket/prefix?versionId=1",
        "s3://bucket/../escape",
    ],
)
def test_unusable_url_raises_storage_error(url: str) -> None:
    with pytest.raises(StorageError):
        ObjectAssetStore(url)


def test_azure_without_account_raises_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot configure object store 'az://container'"):
        ObjectAssetStore("az://container")


def test_unknown_option_raises_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot configure object store 's3://bucket'"):
        ObjectAssetStore("s3://bucket", no_such_option="1")


def test_known_options_are_accepted() -> None:
    store = ObjectAssetStore("s3://bucket/p", region="eu-west-1", skip_signature=True)
    assert store.href("x.tif") == "s3://bucket/p/x.tif"
