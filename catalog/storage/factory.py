"""Choosing the asset store for a configured location."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from catalog.errors import StorageError
from catalog.storage.base import AssetStore
from catalog.storage.local import LocalAssetStore
from catalog.storage.objectstore import SCHEMES, ObjectAssetStore


def create_asset_store(
    url_or_path: str, options: Mapping[str, Any] | None = None
) -> AssetStore:
    """The store for ``url_or_path``.

    A plain path (relative paths are taken from the working directory; ``~`` is not
    expanded) or a ``file://`` URL gives a :class:`LocalAssetStore`; ``s3://``, ``gs://``,
    ``az://`` and ``memory://`` URLs give an :class:`ObjectAssetStore` configured with
    ``options``. Raises :class:`~catalog.errors.StorageError` for an empty location, any
    other scheme, a ``file://`` URL naming a remote host, or options for a local store.
    """
    if not url_or_path.strip():
        raise StorageError("the asset storage location is empty")
    scheme = urlsplit(url_or_path).scheme.lower()
    if scheme in SCHEMES:
        return ObjectAssetStore(url_or_path, **dict(options or {}))
    if options:
        raise StorageError(f"storage options apply to object stores, not to {url_or_path!r}")
    if scheme == "file":
        return LocalAssetStore(_file_url_path(url_or_path))
    if scheme:
        raise StorageError(
            f"unsupported asset storage location {url_or_path!r}: give a "
            "folder path or a file://, s3://, gs://, az:// or memory:// URL"
        )
    return LocalAssetStore(Path(url_or_path))


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise StorageError(f"file URL {url!r} names a remote host; give a local folder")
    if parts.query or parts.fragment or not parts.path:
        raise StorageError(f"file URL {url!r} must be file:///absolute/folder")
    return Path(unquote(parts.path))
