"""Where GDAL reads a stored asset from: a local file, or a presigned object-store URL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from catalog.errors import StorageError
from catalog.storage import AssetStore, LocalAssetStore, ObjectAssetStore
from catalog.tiles.render import RasterSource

# GDAL reads a tile in a few requests; a presigned URL needs to outlive only those.
READ_URL_LIFETIME = timedelta(minutes=15)


async def raster_source(store: AssetStore, store_key: str, asset: dict[str, Any]) -> RasterSource:
    """The source of the stored object ``store_key``, whose STAC asset is ``asset``.

    Raises ``NotFound`` for a missing object and ``StorageError`` for a store GDAL cannot
    reach (an object store that cannot sign URLs).
    """
    if isinstance(store, LocalAssetStore):
        path, _ = await store.file(store_key)
        return RasterSource(str(path), asset)
    if isinstance(store, ObjectAssetStore) and store.can_sign:
        url = await store.signed_url(store_key, READ_URL_LIFETIME)
        return RasterSource(f"/vsicurl/{url}", asset)
    raise StorageError(f"tiles cannot be read from {store!r}")
