"""Typed operations both APIs and the command line call: each takes the caller and typed
inputs, enforces access once, and leaves wire formats to the adapters."""

from catalog.operations.assets import AssetOperations
from catalog.operations.export import ExportOperations
from catalog.operations.saved_searches import SavedSearchOperations
from catalog.operations.tiles import TileOperations, TileRequest

__all__ = [
    "AssetOperations", "ExportOperations", "SavedSearchOperations", "TileOperations",
    "TileRequest",
]
