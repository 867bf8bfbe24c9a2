"""Assets in an object store (S3, Google Cloud Storage, Azure Blob) through obstore.

A store is one bucket (Azure: container) and an optional prefix inside it, given as
``<scheme>://<bucket>/<prefix>``; keys are relative to the prefix and hrefs are
``<scheme>://<bucket>/<prefix>/<key>``. ``memory://`` is obstore's in-process store, one
per :class:`ObjectAssetStore`, for tests and trials.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import MemoryStore, ObjectStore, from_url

from catalog.errors import InvalidStorageKey, NotFound, StorageError
from catalog.storage.base import CHUNK_SIZE, ObjectInfo, PutData, StoredObject
from catalog.storage.chunks import BYTES_LIKE, iter_chunks
from catalog.storage.keys import check_key, key_under, shown_key

SCHEMES = frozenset({"s3", "gs", "az", "memory"})
"""URL schemes served by :class:`ObjectAssetStore`."""


def _first_line(exc: BaseException) -> str:
    # obstore messages append a multi-line debug dump of the Rust error after the summary.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@contextmanager
def _obstore_errors(key: str, action: str) -> Iterator[None]:
    """Re-raise obstore's not-found as ``NotFound`` and its other errors as ``StorageError``."""
    try:
        yield
    except (FileNotFoundError, NotFoundError) as exc:
        raise NotFound(f"no asset stored at key {shown_key(key)}") from exc
    except (BaseError, OSError) as exc:
        raise _storage_error(key, action, exc) from exc


def _storage_error(key: str, action: str, exc: BaseException) -> StorageError:
    return StorageError(f"cannot {action} asset {shown_key(key)}: {_first_line(exc)}")


def _split_url(url: str) -> tuple[str, str, str]:
    """``(scheme, bucket, prefix)`` of a store URL; the prefix is normalized like a key."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise StorageError(
            f"unsupported object store URL {url!r}: the scheme must be one "
            f"of {', '.join(sorted(SCHEMES))}"
        )
    if parts.query or parts.fragment or "@" in parts.netloc or ":" in parts.netloc:
        # Credentials in the URL would end up in every asset href.
        raise StorageError(
            f"unsupported object store URL {url!r}: give only "
            "<scheme>://<bucket>/<prefix>, credentials as options"
        )
    if not parts.netloc and scheme != "memory":
        raise StorageError(f"object store URL {url!r} names no bucket")
    prefix = parts.path.strip("/")
    if prefix:
        try:
            prefix = check_key(prefix)
        except InvalidStorageKey as exc:
            raise StorageError(f"invalid prefix in object store URL {url!r}: {exc}") from exc
    return scheme, parts.netloc, prefix


class ObjectAssetStore:
    """An :class:`~catalog.storage.base.AssetStore` over ``<scheme>://<bucket>/<prefix>``.

    ``options`` are obstore configuration keys for the scheme (for S3 ``region``,
    ``endpoint``, ``skip_signature``...; see obstore's ``S3Config``, ``GCSConfig``,
    ``AzureConfig``). Credentials not given here are found by obstore itself (instance
    metadata, the provider's usual environment variables). An unknown option or an
    unusable URL raises :class:`~catalog.errors.StorageError`.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self.scheme, self.bucket, self.prefix = _split_url(url)
        self._store = self._connect(options)

    def __repr__(self) -> str:
        return f"ObjectAssetStore({self.href_base!r})"

    @property
    def href_base(self) -> str:
        """``<scheme>://<bucket>/<prefix>``: what every href of this store starts with."""
        return f"{self.scheme}://{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def href_prefix(self) -> str:
        """What the href of every object in this store starts with."""
        return self.href_base + "/"

    def _connect(self, options: dict[str, Any]) -> ObjectStore:
        if self.scheme == "memory":
            if options:
                raise StorageError("the memory:// store takes no options")
            return MemoryStore()
        # The prefix is applied here, not by obstore: MemoryStore has none, and one code
        # path keeps keys, listings and hrefs identical across backends.
        try:
            return from_url(f"{self.scheme}://{self.bucket}", **options)
        except (BaseError, ValueError, TypeError) as exc:
            raise StorageError(
                f"cannot configure object store {self.href_base!r}: {_first_line(exc)}"
            ) from exc

    def _path(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: PutData) -> StoredObject:
        """Store ``data`` at ``key``; obstore's put is atomic (multipart for streams)."""
        key = check_key(key)
        sizes: list[int] = []
        body = bytes(data) if isinstance(data, BYTES_LIKE) else _counting(iter_chunks(data), sizes)
        try:
            await obstore.put_async(self._store, self._path(key), body)
        except BaseError as exc:  # only obstore's own: errors of the caller's data pass through
            raise _storage_error(key, "write", exc) from exc
        size = len(body) if isinstance(body, bytes) else sum(sizes)
        return StoredObject(key=key, href=self.href(key), size=size)

    async def get(self, key: str) -> bytes:
        """The whole object at ``key``; raises :class:`~catalog.errors.NotFound`."""
        key = check_key(key)
        with _obstore_errors(key, "read"):
            result = await obstore.get_async(self._store, self._path(key))
            return bytes(await result.bytes_async())

    def open_stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The object at ``key`` in chunks of at most ``chunk_size`` bytes."""
        return self._stream(check_key(key), chunk_size)

    async def _stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        with _obstore_errors(key, "read"):
            result = await obstore.get_async(self._store, self._path(key))
            # The stream merges network reads up to at least min_chunk_size; slicing keeps
            # each chunk within the size promised, as the local store does.
            async for chunk in result.stream(min_chunk_size=chunk_size):
                view = memoryview(chunk)
                for start in range(0, len(view), chunk_size):
                    yield bytes(view[start : start + chunk_size])

    async def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key`` (one HEAD request)."""
        key = check_key(key)
        try:
            with _obstore_errors(key, "check"):
                await obstore.head_async(self._store, self._path(key))
        except NotFound:
            return False
        return True

    async def delete(self, key: str) -> None:
        """Remove the object at ``key``; raises :class:`~catalog.errors.NotFound`.

        Object stores delete missing keys silently, so a HEAD request comes first; a
        concurrent delete between the two goes unreported.
        """
        key = check_key(key)
        with _obstore_errors(key, "delete"):
            await obstore.head_async(self._store, self._path(key))
            await obstore.delete_async(self._store, self._path(key))

    async def info(self, key: str) -> ObjectInfo:
        """The size and last modification of the object at ``key`` (one HEAD request);
        :class:`~catalog.errors.NotFound` when there is none."""
        key = check_key(key)
        with _obstore_errors(key, "check"):
            meta = await obstore.head_async(self._store, self._path(key))
        return ObjectInfo(key, int(meta["size"]), meta["last_modified"].timestamp())

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` (included) to ``end`` (excluded) of the object at ``key``."""
        key = check_key(key)
        with _obstore_errors(key, "read"):
            data = await obstore.get_range_async(self._store, self._path(key), start=start, end=end)
        return bytes(data)

    @property
    def can_sign(self) -> bool:
        """Whether the backend makes presigned URLs (S3, GCS and Azure do; memory not)."""
        return self.scheme != "memory"

    async def signed_url(self, key: str, expires_in: timedelta) -> str:
        """A presigned GET URL of the object at ``key``, valid for ``expires_in``; no
        request is sent (the object may not exist). ``StorageError`` when the backend
        cannot sign (no credentials to sign with, or the memory store)."""
        key = check_key(key)
        if not self.can_sign:
            raise StorageError(f"the {self.scheme}:// store cannot sign URLs")
        try:
            return await obstore.sign_async(self._store, "GET", self._path(key), expires_in)  # type: ignore[call-overload]
        except (BaseError, ValueError, TypeError) as exc:
            raise _storage_error(key, "sign a URL for", exc) from exc

    def href(self, key: str) -> str:
        """``<scheme>://<bucket>/<prefix>/<key>`` (no I/O; the object may not exist)."""
        return f"{self.scheme}://{self.bucket}/{self._path(check_key(key))}"

    def key_of(self, href: str) -> str | None:
        """The key of ``<scheme>://<bucket>/<prefix>/<key>``, else None (no I/O)."""
        return key_under(self.href_base, href)

    async def list(self, prefix: str = "") -> list[str]:
        """Sorted keys of the objects under the folder ``prefix`` ("" for all)."""
        return [info.key for info in await self.list_info(prefix)]

    async def list_info(self, prefix: str = "") -> builtins.list[ObjectInfo]:
        """Sorted objects under the folder ``prefix`` with their size and last-modified."""
        prefix = check_key(prefix) if prefix else ""
        where = self._path(prefix) if prefix else self.prefix
        with _obstore_errors(prefix or ".", "list"):
            metas = await obstore.list(self._store, prefix=where or None).collect_async()
        start = len(self.prefix) + 1 if self.prefix else 0
        infos = (
            ObjectInfo(m["path"][start:], int(m["size"]), m["last_modified"].timestamp())
            for m in metas
        )
        return sorted(infos, key=lambda info: info.key)


async def _counting(chunks: AsyncIterator[bytes], sizes: list[int]) -> AsyncIterator[bytes]:
    """``chunks`` unchanged, appending the size of each to ``sizes``."""
    async for chunk in chunks:
        sizes.append(len(chunk))
        yield chunk
