"""Asset storage: one small interface over a local folder or an object store."""

from catalog.storage.base import CHUNK_SIZE, AssetStore, ObjectInfo, PutData, StoredObject
from catalog.storage.factory import create_asset_store
from catalog.storage.keys import check_key
from catalog.storage.local import LocalAssetStore
from catalog.storage.objectstore import ObjectAssetStore

__all__ = [
    "CHUNK_SIZE",
    "AssetStore",
    "LocalAssetStore",
    "ObjectAssetStore",
    "ObjectInfo",
    "PutData",
    "StoredObject",
    "check_key",
    "create_asset_store",
]
