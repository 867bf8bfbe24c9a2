"""STAC documents: validation and normalization of items and collections."""

from catalog.stac.collections import CollectionRecord, normalize_collection
from catalog.stac.items import AssetRecord, ItemRecord, normalize_item, normalize_items

__all__ = [
    "AssetRecord",
    "CollectionRecord",
    "ItemRecord",
    "normalize_collection",
    "normalize_item",
    "normalize_items",
]
