"""Typed operations both APIs and the command line call: each takes the caller and typed
inputs, enforces access once, and leaves wire formats to the adapters."""

from catalog.operations.assets import AssetOperations
from catalog.operations.collections import CollectionOperations
from catalog.operations.export import ExportOperations
from catalog.operations.hooks import ItemHook, WriteHooks
from catalog.operations.items import ItemOperations, ItemsWritten, ItemWritten
from catalog.operations.jobs import JobHooks, JobOperations, UploadedRaster
from catalog.operations.saved_searches import SavedSearchOperations
from catalog.operations.search import ItemSearch, SearchOperations
from catalog.operations.tiles import TileOperations, TileRequest

__all__ = [
    "AssetOperations",
    "CollectionOperations",
    "ExportOperations",
    "ItemHook",
    "ItemOperations",
    "ItemSearch",
    "ItemWritten",
    "ItemsWritten",
    "JobHooks",
    "JobOperations",
    "SavedSearchOperations",
    "SearchOperations",
    "TileOperations",
    "TileRequest",
    "UploadedRaster",
    "WriteHooks",
]
