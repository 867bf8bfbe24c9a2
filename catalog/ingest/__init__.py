"""Ingest service: validate and upsert collections and items, keep extents current."""

from catalog.ingest.collections import (
    create_collection,
    delete_collection,
    upsert_collection,
)
from catalog.ingest.items import UpsertSummary, delete_item, upsert_items
from catalog.ingest.loader import LoadReport, load_path

__all__ = [
    "LoadReport",
    "UpsertSummary",
    "create_collection",
    "delete_collection",
    "delete_item",
    "load_path",
    "upsert_collection",
    "upsert_items",
]
