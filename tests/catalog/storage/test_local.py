"""LocalAssetStore on a real folder: round trips, streams, atomic writes, confinement."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from catalog.errors import InvalidStorageKey, NotFound, StorageError
from catalog.storage import LocalAssetStore
from catalog.storage.local import TEMP_PREFIX
from tests.catalog.storage.test_keys import HOSTILE_KEYS
from tests.support.paths import RASTERS

RASTER = RASTERS / "rasterio" / "RGB.byte.tif"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "assets"


@pytest.fixture
def store(root: Path) -> LocalAssetStore:
    return LocalAssetStore(root)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


async def chunks_then_failure(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    raise ConnectionResetError("client went away")


async def as_stream(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_bytes_round_trip(store: LocalAssetStore) -> None:
    await store.put("a/b.bin", b"\x00\x01payload")
    assert await store.get("a/b.bin") == b"\x00\x01payload"


async def test_put_reports_key_href_and_size(store: LocalAssetStore, root: Path) -> None:
    stored = await store.put("./items//x.bin", b"12345")
    assert (stored.key, stored.href, stored.size) == (
        "items/x.bin",
        (root.resolve() / "items" / "x.bin").as_uri(),
        5,
    )


async def test_href_is_a_file_uri_percent_encoded(store: LocalAssetStore, root: Path) -> None:
    assert store.href("a b/x.tif") == "file://" + str(root.resolve()) + "/a%20b/x.tif"


async def test_raster_file_object_round_trip(store: LocalAssetStore) -> None:
    with RASTER.open("rb") as file:
        stored = await store.put("rasters/RGB.byte.tif", file)
    expected = RASTER.read_bytes()
    assert stored.size == len(expected)
    assert sha256(await store.get("rasters/RGB.byte.tif")) == sha256(expected)


async def test_raster_async_stream_round_trip(store: LocalAssetStore) -> None:
    expected = RASTER.read_bytes()
    await store.put("rasters/RGB.byte.tif", as_stream(expected, 64 * 1024))
    received = [c async for c in store.open_stream("rasters/RGB.byte.tif")]
    assert sha256(b"".join(received)) == sha256(expected)


async def test_open_stream_yields_chunks_of_the_asked_size(store: LocalAssetStore) -> None:
    await store.put("x.bin", bytes(range(250)))
    sizes = [len(c) async for c in store.open_stream("x.bin", chunk_size=100)]
    assert sizes == [100, 100, 50]


async def test_empty_object_round_trip(store: LocalAssetStore) -> None:
    stored = await store.put("empty.bin", b"")
    assert (stored.size, await store.get("empty.bin")) == (0, b"")


async def test_put_creates_missing_folders(store: LocalAssetStore, root: Path) -> None:
    await store.put("deep/er/still/x.bin", b"1")
    assert (root / "deep" / "er" / "still" / "x.bin").read_bytes() == b"1"


async def test_overwrite_replaces_content(store: LocalAssetStore) -> None:
    await store.put("x.bin", b"old content, longer")
    await store.put("x.bin", b"new")
    assert await store.get("x.bin") == b"new"


async def test_get_missing_raises_not_found(store: LocalAssetStore) -> None:
    with pytest.raises(NotFound, match=r"'nope\.bin'"):
        await store.get("nope.bin")


async def test_get_of_a_folder_raises_not_found(store: LocalAssetStore) -> None:
    await store.put("folder/x.bin", b"1")
    with pytest.raises(NotFound):
        await store.get("folder")


async def test_open_stream_missing_raises_not_found(store: LocalAssetStore) -> None:
    with pytest.raises(NotFound):
        [c async for c in store.open_stream("nope.bin")]


async def test_exists_follows_put_and_delete(store: LocalAssetStore) -> None:
    await store.put("x.bin", b"1")
    assert await store.exists("x.bin")
    await store.delete("x.bin")
    assert not await store.exists("x.bin")


async def test_delete_missing_raises_not_found(store: LocalAssetStore) -> None:
    with pytest.raises(NotFound, match=r"'nope\.bin'"):
        await store.delete("nope.bin")


async def test_list_returns_every_key_sorted(store: LocalAssetStore) -> None:
    for key in ["b/2.bin", "a/1.bin", "c.bin", "a/z/3.bin"]:
        await store.put(key, b"1")
    assert await store.list() == ["a/1.bin", "a/z/3.bin", "b/2.bin", "c.bin"]


async def test_list_prefix_matches_whole_segments(store: LocalAssetStore) -> None:
    for key in ["a/1.bin", "ab/2.bin", "a/b/3.bin"]:
        await store.put(key, b"1")
    assert await store.list("a") == ["a/1.bin", "a/b/3.bin"]


async def test_list_of_a_missing_prefix_is_empty(store: LocalAssetStore) -> None:
    assert await store.list("nothing/here") == []


async def test_list_skips_files_being_written(store: LocalAssetStore, root: Path) -> None:
    await store.put("x.bin", b"1")
    (root / f"{TEMP_PREFIX}0123").write_bytes(b"partial")
    assert await store.list() == ["x.bin"]


async def test_put_leaves_no_temporary_file(store: LocalAssetStore, root: Path) -> None:
    await store.put("a/x.bin", b"1")
    await store.put("a/x.bin", b"2")
    assert files_under(root) == ["a/x.bin"]


async def test_failing_stream_stores_nothing(store: LocalAssetStore, root: Path) -> None:
    with pytest.raises(ConnectionResetError):
        await store.put("a/x.bin", chunks_then_failure(b"first", b"second"))
    assert not await store.exists("a/x.bin")
    assert files_under(root) == []


async def test_failing_overwrite_keeps_the_old_object(store: LocalAssetStore) -> None:
    await store.put("x.bin", b"old")
    with pytest.raises(ConnectionResetError):
        await store.put("x.bin", chunks_then_failure(b"new, half"))
    assert await store.get("x.bin") == b"old"


@pytest.fixture
def file_size_limit() -> Iterator[int]:
    """Writes past 64 KiB fail with EFBIG in this process, as they would on a full disk."""
    limit = 64 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


async def test_write_failure_raises_storage_error_and_stores_nothing(
    store: LocalAssetStore, root: Path, file_size_limit: int
) -> None:
    with pytest.raises(StorageError, match=r"cannot write asset 'big\.bin'"):
        await store.put("big.bin", as_stream(b"x" * (4 * file_size_limit), 16 * 1024))
    assert files_under(root) == []


async def test_key_below_a_file_raises_storage_error(store: LocalAssetStore) -> None:
    await store.put("x.bin", b"1")
    with pytest.raises(StorageError, match="a parent of the key is a file"):
        await store.put("x.bin/y.bin", b"2")


async def test_key_naming_a_folder_raises_storage_error(store: LocalAssetStore) -> None:
    await store.put("folder/x.bin", b"1")
    with pytest.raises(StorageError, match="the key names a folder"):
        await store.put("folder", b"2")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
async def test_read_only_folder_raises_storage_error(store: LocalAssetStore, root: Path) -> None:
    root.mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="permission denied"):
            await store.put("x.bin", b"1")
    finally:
        root.chmod(0o700)


@pytest.mark.parametrize("key", HOSTILE_KEYS.values(), ids=HOSTILE_KEYS.keys())
async def test_put_refuses_hostile_key(store: LocalAssetStore, tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidStorageKey):
        await store.put(key, b"1")
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("method", ["get", "exists", "delete", "list"])
async def test_every_method_refuses_a_parent_segment(store: LocalAssetStore, method: str) -> None:
    with pytest.raises(InvalidStorageKey):
        await getattr(store, method)("../outside")


async def test_open_stream_refuses_hostile_key_at_the_call(store: LocalAssetStore) -> None:
    with pytest.raises(InvalidStorageKey):
        store.open_stream("/etc/passwd")


async def test_temporary_file_names_are_reserved(store: LocalAssetStore) -> None:
    with pytest.raises(InvalidStorageKey, match="reserved"):
        await store.put(f"a/{TEMP_PREFIX}x", b"1")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"secret")
    return folder


async def test_symlinked_folder_escape_is_refused_on_read(
    store: LocalAssetStore, root: Path, outside: Path
) -> None:
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidStorageKey, match="outside the storage root"):
        await store.get("link/secret.txt")


async def test_symlinked_folder_escape_is_refused_on_write(
    store: LocalAssetStore, root: Path, outside: Path
) -> None:
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidStorageKey):
        await store.put("link/planted.txt", b"1")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


async def test_symlinked_file_escape_is_refused(
    store: LocalAssetStore, root: Path, outside: Path
) -> None:
    root.mkdir()
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(InvalidStorageKey):
        await store.get("leak.txt")


async def test_symlink_inside_the_root_is_followed(store: LocalAssetStore, root: Path) -> None:
    await store.put("real/x.bin", b"1")
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    assert await store.get("alias/x.bin") == b"1"


async def test_list_skips_symlinks(store: LocalAssetStore, root: Path, outside: Path) -> None:
    await store.put("x.bin", b"1")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    assert await store.list() == ["x.bin"]


async def test_text_file_is_refused(store: LocalAssetStore, tmp_path: Path) -> None:
    text = tmp_path / "note.txt"
    text.write_text("hello")
    with text.open() as file, pytest.raises(TypeError, match="binary mode"):
        await store.put("note.txt", file)  # type: ignore[arg-type]
