"""LocalAssetStore specifics on a real folder: atomic writes, temporary files, confinement
(the store contract runs in ``test_contract.py``)."""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.errors import InvalidStorageKey, NotFound, StorageError
from catalog.storage import LocalAssetStore
from catalog.storage.local import TEMP_PREFIX
from tests.catalog.storage.test_contract import as_stream, chunks_then_failure


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "assets"


@pytest.fixture
def store(root: Path) -> LocalAssetStore:
    return LocalAssetStore(root)


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


async def test_href_is_a_file_uri_percent_encoded(store: LocalAssetStore, root: Path) -> None:
    assert store.href("a b/x.tif") == "file://" + str(root.resolve()) + "/a%20b/x.tif"


async def test_open_stream_yields_chunks_of_the_asked_size(store: LocalAssetStore) -> None:
    await store.put("x.bin", bytes(range(250)))
    sizes = [len(c) async for c in store.open_stream("x.bin", chunk_size=100)]
    assert sizes == [100, 100, 50]


async def test_put_creates_missing_folders(store: LocalAssetStore, root: Path) -> None:
    await store.put("deep/er/still/x.bin", b"1")
    assert (root / "deep" / "er" / "still" / "x.bin").read_bytes() == b"1"


async def test_get_of_a_folder_raises_not_found(store: LocalAssetStore) -> None:
    await store.put("folder/x.bin", b"1")
    with pytest.raises(NotFound):
        await store.get("folder")


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
