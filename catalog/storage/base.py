"""The asset store interface every backend implements, and what a write returns."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, TypeAlias, runtime_checkable

PutData: TypeAlias = bytes | bytearray | memoryview | AsyncIterable[bytes] | BinaryIO
"""What :meth:`AssetStore.put` accepts: bytes, an async stream of byte chunks, or a binary
file object opened for reading (read from its current position to its end)."""

CHUNK_SIZE = 1024 * 1024
"""Default size in bytes of the chunks read from files and yielded by ``open_stream``."""


@dataclass(frozen=True)
class StoredObject:
    """An object as written: its normalized key, the href a STAC asset carries, its size."""

    key: str
    href: str
    size: int


@dataclass(frozen=True)
class ObjectInfo:
    """An object as listed: its key, size in bytes and last modification time (seconds
    since the epoch, as the backend reports it)."""

    key: str
    size: int
    modified: float


@runtime_checkable
class AssetStore(Protocol):
    """Where asset files live: a local folder or an object-store bucket and prefix.

    Keys are relative POSIX paths checked by :func:`catalog.storage.keys.check_key`; every
    method raises :class:`~catalog.errors.InvalidStorageKey` for a hostile key before any
    I/O, and :class:`~catalog.errors.StorageError` when the backend fails.
    """

    async def put(self, key: str, data: PutData) -> StoredObject:
        """Store ``data`` at ``key``, replacing any object there.

        The write is atomic: readers see the old object or the complete new one, never a
        part. If ``data`` raises mid-stream, the error propagates and nothing is stored.
        """
        ...

    async def get(self, key: str) -> bytes:
        """The whole object at ``key``; raises :class:`~catalog.errors.NotFound`."""
        ...

    def open_stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The object at ``key`` as chunks of at most ``chunk_size`` bytes, in order.

        The key is checked at the call; :class:`~catalog.errors.NotFound` is raised when
        iteration starts.
        """
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object at ``key``; raises :class:`~catalog.errors.NotFound`."""
        ...

    @property
    def href_prefix(self) -> str:
        """What the href of every object of this store starts with (no I/O)."""
        ...

    def href(self, key: str) -> str:
        """The URL a STAC asset stored at ``key`` carries; no I/O, the object may not exist."""
        ...

    def key_of(self, href: str) -> str | None:
        """The key of the object ``href`` names in this store (the inverse of
        :meth:`href`), or None when it names none of it; no I/O."""
        ...

    async def list(self, prefix: str = "") -> list[str]:
        """Sorted keys of the objects under the folder ``prefix`` ("" for all).

        ``prefix`` matches whole segments: ``a`` lists ``a/x`` but not ``ab/x``.
        """
        ...

    async def list_info(self, prefix: str = "") -> builtins.list[ObjectInfo]:
        """:meth:`list` with each object's size and modification time, sorted by key."""
        ...
