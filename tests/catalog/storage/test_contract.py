"""What every asset store promises, run once per backend: a local folder and an object
store (``ObjectAssetStore`` on moto's S3 server, over HTTP as in production).

Backend-specific behaviour (file-system confinement, atomic temporary files, href forms,
URL parsing) stays in ``test_local.py`` and ``test_objectstore.py``.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from catalog.errors import InvalidStorageKey, NotFound
from catalog.storage import AssetStore, LocalAssetStore, ObjectAssetStore
from tests.catalog.storage.test_keys import HOSTILE_KEYS
from tests.support.object_stores import S3_BUCKET, moto_s3, s3_options
from tests.support.paths import RASTERS

RASTER = RASTERS / "rasterio" / "RGB.byte.tif"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    with moto_s3() as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> AssetStore:
    """An empty store of each backend (on S3, under a prefix of its own)."""
    if request.param == "local":
        return LocalAssetStore(tmp_path / "assets")
    url = request.getfixturevalue("s3_server")
    return ObjectAssetStore(f"s3://{S3_BUCKET}/{uuid.uuid4().hex}", **s3_options(url))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def chunks_then_failure(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    raise ConnectionResetError("client went away")


async def as_stream(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_bytes_round_trip(store: AssetStore) -> None:
    await store.put("a/b.bin", b"\x00\x01payload")
    assert await store.get("a/b.bin") == b"\x00\x01payload"


async def test_put_reports_the_normal_key_its_href_and_size(store: AssetStore) -> None:
    stored = await store.put("./items//x.bin", b"12345")
    assert (stored.key, stored.href, stored.size) == ("items/x.bin", store.href("items/x.bin"), 5)


async def test_raster_file_object_round_trip(store: AssetStore) -> None:
    with RASTER.open("rb") as file:
        stored = await store.put("rasters/RGB.byte.tif", file)
    expected = RASTER.read_bytes()
    assert stored.size == len(expected)
    assert sha256(await store.get("rasters/RGB.byte.tif")) == sha256(expected)


async def test_raster_async_stream_round_trip(store: AssetStore) -> None:
    expected = RASTER.read_bytes()
    stored = await store.put("rasters/RGB.byte.tif", as_stream(expected, 64 * 1024))
    received = [c async for c in store.open_stream("rasters/RGB.byte.tif")]
    assert stored.size == len(expected)
    assert sha256(b"".join(received)) == sha256(expected)


async def test_open_stream_chunks_stay_within_the_asked_size(store: AssetStore) -> None:
    await store.put("x.bin", io.BytesIO(RASTER.read_bytes()))
    sizes = [len(c) async for c in store.open_stream("x.bin", chunk_size=64 * 1024)]
    assert len(sizes) > 1
    assert max(sizes) <= 64 * 1024


async def test_empty_object_round_trip(store: AssetStore) -> None:
    stored = await store.put("empty.bin", b"")
    assert (stored.size, await store.get("empty.bin")) == (0, b"")


async def test_overwrite_replaces_content(store: AssetStore) -> None:
    await store.put("x.bin", b"old content, longer")
    await store.put("x.bin", b"new")
    assert await store.get("x.bin") == b"new"


async def test_get_missing_raises_not_found(store: AssetStore) -> None:
    with pytest.raises(NotFound, match=r"'nope\.bin'"):
        await store.get("nope.bin")


async def test_open_stream_missing_raises_not_found(store: AssetStore) -> None:
    with pytest.raises(NotFound):
        [c async for c in store.open_stream("nope.bin")]


async def test_exists_follows_put_and_delete(store: AssetStore) -> None:
    await store.put("x.bin", b"1")
    assert await store.exists("x.bin")
    await store.delete("x.bin")
    assert not await store.exists("x.bin")


async def test_delete_missing_raises_not_found(store: AssetStore) -> None:
    with pytest.raises(NotFound, match=r"'nope\.bin'"):
        await store.delete("nope.bin")


async def test_list_returns_every_key_sorted(store: AssetStore) -> None:
    for key in ["b/2.bin", "a/1.bin", "c.bin", "a/z/3.bin"]:
        await store.put(key, b"1")
    assert await store.list() == ["a/1.bin", "a/z/3.bin", "b/2.bin", "c.bin"]


async def test_list_prefix_matches_whole_segments(store: AssetStore) -> None:
    for key in ["a/1.bin", "ab/2.bin", "a/b/3.bin"]:
        await store.put(key, b"1")
    assert await store.list("a") == ["a/1.bin", "a/b/3.bin"]


async def test_list_of_a_missing_prefix_is_empty(store: AssetStore) -> None:
    assert await store.list("nothing/here") == []


async def test_failing_stream_stores_nothing(store: AssetStore) -> None:
    with pytest.raises(ConnectionResetError):
        await store.put("a/x.bin", chunks_then_failure(b"first", b"second"))
    assert not await store.exists("a/x.bin")
    assert await store.list() == []


async def test_failing_overwrite_keeps_the_old_object(store: AssetStore) -> None:
    await store.put("x.bin", b"old")
    with pytest.raises(ConnectionResetError):
        await store.put("x.bin", chunks_then_failure(b"new, half"))
    assert await store.get("x.bin") == b"old"


@pytest.mark.parametrize("key", HOSTILE_KEYS.values(), ids=HOSTILE_KEYS.keys())
async def test_put_refuses_hostile_key(store: AssetStore, key: str) -> None:
    with pytest.raises(InvalidStorageKey):
        await store.put(key, b"1")
    assert await store.list() == []


@pytest.mark.parametrize("method", ["get", "exists", "delete", "list", "href"])
async def test_every_method_refuses_a_parent_segment(store: AssetStore, method: str) -> None:
    with pytest.raises(InvalidStorageKey):
        result = getattr(store, method)("../outside")
        if method != "href":
            await result
