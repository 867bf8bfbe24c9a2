"""How an asset's bytes reach a client: a local file, a presigned URL, or a stream.

The catalog decides which; the HTTP adapter sends it (ranges, conditional requests).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from catalog.assets.locate import StoredAsset
from catalog.storage import AssetStore, LocalAssetStore, ObjectAssetStore

DEFAULT_MEDIA_TYPE = "application/octet-stream"


def entity_tag(size: int, modified: float) -> str:
    """A strong ETag for an object of that size and modification time."""
    digest = hashlib.sha256(f"{size}-{modified!r}".encode()).hexdigest()[:32]
    return f'"{digest}"'


class _Validated:
    """A delivery of known size and modification time, which its entity tag comes from.

    Subclasses give ``size`` and ``modified`` as fields or as properties (declaring them
    here would make the properties of one or the fields of the other invalid)."""

    @property
    def etag(self) -> str:
        """The entity tag of the file or object (``entity_tag``)."""
        return entity_tag(self.size, self.modified)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class FileDelivery(_Validated):
    """A regular file of the local store, sent by the server itself; ``stat`` as read
    when it was found (so the server need not read it again)."""

    path: Path
    stat: os.stat_result
    media_type: str
    key: str = ""
    """The file's key in the store (its path below the store's root)."""

    @property
    def size(self) -> int:
        """Bytes in the file."""
        return self.stat.st_size

    @property
    def modified(self) -> float:
        """Last modification, seconds since the epoch."""
        return self.stat.st_mtime


@dataclass(frozen=True)
class ObjectDelivery(_Validated):
    """An object-store object streamed through the server (signing off or impossible)."""

    store: ObjectAssetStore
    key: str
    size: int
    modified: float
    media_type: str


@dataclass(frozen=True)
class RedirectDelivery:
    """A short-lived presigned URL of the object store; the client fetches from there."""

    url: str
    expires_in: timedelta


Delivery = FileDelivery | ObjectDelivery | RedirectDelivery


def _media_type(asset: StoredAsset) -> str:
    return asset.media_type or mimetypes.guess_type(asset.store_key)[0] or DEFAULT_MEDIA_TYPE


async def deliver(
    store: AssetStore, asset: StoredAsset, *, sign_urls: bool, expires_in: timedelta
) -> Delivery:
    """How to send ``asset``'s bytes; ``NotFound`` when the store has no such object.

    Object stores that can sign answer with a presigned URL when ``sign_urls`` is set, so
    the bytes never pass through the API; otherwise the server streams them.
    """
    media_type = _media_type(asset)
    if isinstance(store, LocalAssetStore):
        path, stat = await store.file(asset.store_key)
        return FileDelivery(path, stat, media_type, asset.store_key)
    if isinstance(store, ObjectAssetStore):
        if sign_urls and store.can_sign:
            url = await store.signed_url(asset.store_key, expires_in)
            return RedirectDelivery(url, expires_in)
        info = await store.info(asset.store_key)
        return ObjectDelivery(store, asset.store_key, info.size, info.modified, media_type)
    raise TypeError(f"no delivery for assets of {store!r}")
