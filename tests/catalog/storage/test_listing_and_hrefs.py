"""``list_info`` (keys, sizes, mtimes) and ``key_of`` (href → key) on both backends."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from catalog.storage import AssetStore, LocalAssetStore, ObjectAssetStore


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> AssetStore:
    if request.param == "local":
        return LocalAssetStore(tmp_path)
    return ObjectAssetStore("memory://bucket/assets")


async def test_list_info_gives_the_keys_of_list_with_sizes(store: AssetStore) -> None:
    await store.put("a/one.tif", b"1")
    await store.put("a/b/two.tif", b"22")
    await store.put("ab/three.tif", b"333")
    infos = await store.list_info("a")
    assert [i.key for i in infos] == await store.list("a") == ["a/b/two.tif", "a/one.tif"]
    assert [i.size for i in infos] == [2, 1]


async def test_list_info_modification_time_follows_a_rewrite(store: AssetStore) -> None:
    before = time.time() - 5
    await store.put("x.tif", b"old")
    [first] = await store.list_info()
    assert first.modified >= before
    if isinstance(store, LocalAssetStore):  # make the rewrite visible at mtime resolution
        os.utime(store.root / "x.tif", (first.modified - 10, first.modified - 10))
        [first] = await store.list_info()
    await store.put("x.tif", b"newer")
    [second] = await store.list_info()
    assert (second.size, second.modified > first.modified) == (5, True)


@pytest.mark.parametrize("key", ["a.tif", "deep/er/b c.tif", "é/ü.tif"])
def test_key_of_inverts_href(store: AssetStore, key: str) -> None:
    assert store.key_of(store.href(key)) == key


def test_key_of_refuses_hrefs_outside_the_store(store: AssetStore) -> None:
    inside = store.href("a/b.tif")
    base = inside[: -len("a/b.tif")]
    outside = [
        "https://example.com/a.tif", "/etc/passwd", base + "../escape.tif", base,
        base.rstrip("/") + "-sibling/a.tif", "file:///etc/passwd", "s3://other/a.tif",
    ]
    assert [store.key_of(href) for href in outside] == [None] * len(outside)
