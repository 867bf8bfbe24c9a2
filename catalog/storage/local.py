"""Assets as files under one local folder.

Hrefs are ``file://`` URIs of absolute paths. Writes go to a hidden temporary file in the
target's folder, are flushed to disk and renamed into place, so a reader sees the old
file or the whole new one. Every path is resolved, symlinks included, and refused unless
it stays inside the root.
"""

from __future__ import annotations

import asyncio
import builtins
import errno
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, contextmanager, suppress
from pathlib import Path
from stat import S_ISREG
from typing import TypeVar
from urllib.parse import unquote

from catalog.errors import InvalidStorageKey, NotFound, StorageError
from catalog.storage.base import CHUNK_SIZE, ObjectInfo, PutData, StoredObject
from catalog.storage.chunks import iter_chunks
from catalog.storage.keys import check_key, key_under, shown_key

T = TypeVar("T")

TEMP_PREFIX = ".stacql-tmp-"
"""File names starting with this are writes in progress: never listed, never a key."""

_HINTS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is larger than the file system or process allows",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a parent of the key is a file",
    errno.EEXIST: "a parent of the key is a file",  # from mkdir(exist_ok=True)
    errno.EISDIR: "the key names a folder",
}
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


@contextmanager
def _os_errors(key: str, action: str) -> Iterator[None]:
    """Re-raise ``OSError`` as ``StorageError``, or as ``NotFound`` when reading a missing key.

    ``action`` is the verb of the message: "write", "read", "delete"...
    """
    try:
        yield
    except _MISSING as exc:
        if action == "write":
            raise StorageError(f"cannot write asset {shown_key(key)}: {_reason(exc)}") from exc
        raise NotFound(f"no asset stored at key {shown_key(key)}") from exc
    except OSError as exc:
        raise StorageError(f"cannot {action} asset {shown_key(key)}: {_reason(exc)}") from exc


def _reason(exc: OSError) -> str:
    return _HINTS.get(exc.errno or 0) or exc.strerror or str(exc)


class _StagedFile:
    """A temporary file beside ``target``, renamed onto it by :meth:`commit`."""

    def __init__(self, target: Path, key: str) -> None:
        self.key = key
        self.target = target
        self.temp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}")
        with _os_errors(key, "write"):
            target.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: never write through a file (or symlink) someone placed at this name.
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self.file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        with _os_errors(self.key, "write"):
            self.file.write(chunk)

    def commit(self) -> None:
        with _os_errors(self.key, "write"):
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.temp, self.target)

    def discard(self) -> None:
        # Best effort: the error that made us discard is the one worth reporting.
        with suppress(OSError):
            self.file.close()
            self.temp.unlink(missing_ok=True)


class LocalAssetStore:
    """An :class:`~catalog.storage.base.AssetStore` over the folder ``root``.

    ``root`` is resolved (made absolute, symlinks followed) once, here; it is created on
    the first write. Empty folders left by :meth:`delete` are kept.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        # Computed once: ``as_uri`` costs microseconds, and every asset href of a
        # response is checked against it.
        self._href_prefix = self.root.as_uri().rstrip("/") + "/"

    def __repr__(self) -> str:
        return f"LocalAssetStore({str(self.root)!r})"

    @property
    def href_prefix(self) -> str:
        """What the href of every object in this store starts with (``file:///root/``)."""
        return self._href_prefix

    def _resolve(self, key: str) -> Path:
        """The real path of the normalized ``key``, refused if it leaves the root."""
        if any(part.startswith(TEMP_PREFIX) for part in key.split("/")):
            raise InvalidStorageKey(
                f"invalid storage key {shown_key(key)}: "
                f"names starting with {TEMP_PREFIX!r} are reserved"
            )
        try:
            path = (self.root / key).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop, before 3.13
            raise StorageError(f"cannot resolve storage key {shown_key(key)}: {exc}") from exc
        if path == self.root or not path.is_relative_to(self.root):
            raise InvalidStorageKey(
                f"invalid storage key {shown_key(key)}: it leads outside the storage root"
            )
        return path

    async def put(self, key: str, data: PutData) -> StoredObject:
        """Store ``data`` at ``key`` atomically (temporary file, fsync, rename)."""
        key = check_key(key)
        target = await asyncio.to_thread(self._resolve, key)
        staged = await asyncio.to_thread(_StagedFile, target, key)
        size = 0
        try:
            async with aclosing(iter_chunks(data)) as chunks:  # type: ignore[type-var]
                async for chunk in chunks:
                    await asyncio.to_thread(staged.write, chunk)
                    size += len(chunk)
            await asyncio.to_thread(staged.commit)
        except BaseException:
            staged.discard()
            raise
        return StoredObject(key=key, href=self.href(key), size=size)

    async def get(self, key: str) -> bytes:
        """The whole file at ``key``; raises :class:`~catalog.errors.NotFound`."""
        key = check_key(key)
        return await asyncio.to_thread(self._read, key)

    def _read(self, key: str) -> bytes:
        path = self._resolve(key)
        with _os_errors(key, "read"):
            return path.read_bytes()

    def open_stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The file at ``key`` in chunks of ``chunk_size`` bytes (the last may be shorter)."""
        return self._stream(check_key(key), chunk_size)

    async def _stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        path = await asyncio.to_thread(self._resolve, key)
        with _os_errors(key, "read"):
            file = await asyncio.to_thread(path.open, "rb")
        with file:
            while True:
                with _os_errors(key, "read"):
                    chunk = await asyncio.to_thread(file.read, chunk_size)
                if not chunk:
                    return
                yield chunk

    async def exists(self, key: str) -> bool:
        """Whether a file is stored at ``key``."""
        key = check_key(key)
        return await asyncio.to_thread(self._is_file, key)

    def _is_file(self, key: str) -> bool:
        path = self._resolve(key)
        with _os_errors(key, "check"):
            return path.is_file()

    async def delete(self, key: str) -> None:
        """Remove the file at ``key``; raises :class:`~catalog.errors.NotFound`."""
        key = check_key(key)
        await asyncio.to_thread(self._unlink, key)

    def _unlink(self, key: str) -> None:
        path = self._resolve(key)
        with _os_errors(key, "delete"):
            path.unlink()

    async def file(self, key: str) -> tuple[Path, os.stat_result]:
        """The real path of the regular file at ``key`` and its ``stat``, for a server that
        sends it; :class:`~catalog.errors.NotFound` for anything but a regular file."""
        key = check_key(key)
        return await asyncio.to_thread(self._regular_file, key)

    def _regular_file(self, key: str) -> tuple[Path, os.stat_result]:
        path = self._resolve(key)
        with _os_errors(key, "read"):
            stat = path.stat()
        if not S_ISREG(stat.st_mode):
            raise NotFound(f"no asset stored at key {shown_key(key)}")
        return path, stat

    def href(self, key: str) -> str:
        """The ``file://`` URI of ``key`` under the root (not resolved, no I/O)."""
        return (self.root / check_key(key)).as_uri()

    def key_of(self, href: str) -> str | None:
        """The key of a ``file://`` URI under the root, else None (no I/O)."""
        if not href.startswith("file:"):
            return None
        return key_under(unquote(self.root.as_uri()), unquote(href))

    async def list(self, prefix: str = "") -> list[str]:
        """Sorted keys of the files under the folder ``prefix``; symlinks are not listed."""
        return await self._listing(prefix, self._walk)

    async def _listing(self, prefix: str, walk: Callable[[Path], T]) -> T:
        start = self.root
        if prefix:
            prefix = check_key(prefix)
            start = await asyncio.to_thread(self._resolve, prefix)
        with _os_errors(prefix or ".", "list"):
            return await asyncio.to_thread(walk, start)

    async def list_info(self, prefix: str = "") -> builtins.list[ObjectInfo]:
        """Sorted files under the folder ``prefix`` with their size and mtime."""
        return await self._listing(prefix, self._walk_info)

    def _walk_info(self, start: Path) -> builtins.list[ObjectInfo]:
        infos = []
        for key in self._walk(start):
            try:
                stat = (self.root / key).stat()
            except FileNotFoundError:  # removed since the walk
                continue
            infos.append(ObjectInfo(key, stat.st_size, stat.st_mtime))
        return infos

    def _walk(self, start: Path) -> builtins.list[str]:
        keys: builtins.list[str] = []
        pending = [start] if start.is_dir() else []
        while pending:
            try:
                entries = list(os.scandir(pending.pop()))
            except FileNotFoundError:  # removed while we walk: nothing under it any more
                continue
            for entry in entries:
                if entry.is_symlink() or entry.name.startswith(TEMP_PREFIX):
                    continue
                if entry.is_dir():
                    pending.append(Path(entry.path))
                elif entry.is_file():
                    keys.append(Path(entry.path).relative_to(self.root).as_posix())
        return sorted(keys)
