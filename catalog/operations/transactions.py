"""Single-document writes with the semantics of the STAC Transaction extension:
create (refuse an existing id), replace (refuse a missing one), merge-patch, bulk insert."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.errors import Conflict, InvalidInput, InvalidStac, ItemNotFound
from catalog.ingest.collections import upsert_collection
from catalog.ingest.items import UpsertSummary, upsert_items
from catalog.search.lookup import get_collection, get_item
from catalog.stac.items import normalize_items
from catalog.stac.links import without_structural_links


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7396 JSON merge patch (null deletes a member)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _check_item_target(doc: Any, collection_id: str, item_id: str | None = None) -> None:
    if not isinstance(doc, dict):
        raise InvalidStac("an item must be a JSON object")
    if doc.get("collection") not in (None, collection_id):
        raise InvalidInput(
            f"the item's collection {doc['collection']!r} is not the path's {collection_id!r}"
        )
    if item_id is not None and doc.get("id") != item_id:
        raise InvalidInput(f"the item's id {doc.get('id')!r} is not the path's {item_id!r}")


async def _item_exists(session: AsyncSession, collection_id: str, item_id: str) -> bool:
    row = await session.execute(
        text("SELECT 1 FROM items WHERE collection_id = :c AND id = :i"),
        {"c": collection_id, "i": item_id},
    )
    return row.scalar() is not None


async def create_item(session: AsyncSession, collection_id: str, doc: Any) -> dict[str, Any]:
    """Create one item; ``Conflict`` when the id exists. Returns the stored document."""
    _check_item_target(doc, collection_id)
    await get_collection(session, collection_id)
    records = normalize_items([without_structural_links(doc)], collection_id)
    if await _item_exists(session, collection_id, records[0].id):
        raise Conflict(f"item {records[0].id!r} already exists in {collection_id!r}")
    await upsert_items(session, records)
    return await get_item(session, collection_id, records[0].id)


async def insert_items(
    session: AsyncSession, collection_id: str, docs: list[Any]
) -> UpsertSummary:
    """Bulk insert-or-replace items of one collection, all or nothing."""
    for doc in docs:
        _check_item_target(doc, collection_id)
    await get_collection(session, collection_id)
    return await upsert_items(
        session, normalize_items([without_structural_links(d) for d in docs], collection_id)
    )


async def replace_item(
    session: AsyncSession, collection_id: str, item_id: str, doc: Any
) -> dict[str, Any]:
    """Replace an existing item; ``ItemNotFound`` when it does not exist."""
    _check_item_target(doc, collection_id, item_id)
    if not await _item_exists(session, collection_id, item_id):
        await get_collection(session, collection_id)
        raise ItemNotFound(f"no item {item_id!r} in collection {collection_id!r}")
    await upsert_items(session, normalize_items([without_structural_links(doc)], collection_id))
    return await get_item(session, collection_id, item_id)


async def patch_item(
    session: AsyncSession, collection_id: str, item_id: str, patch: Any
) -> dict[str, Any]:
    """Merge-patch an existing item (RFC 7396); its id and collection cannot change."""
    if not isinstance(patch, dict):
        raise InvalidInput("a merge patch must be a JSON object")
    current = await get_item(session, collection_id, item_id)
    merged = merge_patch(current, patch)
    return await replace_item(session, collection_id, item_id, merged)


async def replace_collection(
    session: AsyncSession, collection_id: str, doc: Any
) -> dict[str, Any]:
    """Replace an existing collection (its items stay); ``UnknownCollection`` if missing."""
    await get_collection(session, collection_id)
    if not isinstance(doc, dict) or doc.get("id") != collection_id:
        raise InvalidInput(f"the collection's id must be the path's {collection_id!r}")
    await upsert_collection(session, without_structural_links(doc))
    return await get_collection(session, collection_id)


async def patch_collection(
    session: AsyncSession, collection_id: str, patch: Any
) -> dict[str, Any]:
    """Merge-patch an existing collection (RFC 7396)."""
    if not isinstance(patch, dict):
        raise InvalidInput("a merge patch must be a JSON object")
    current = await get_collection(session, collection_id)
    row = await session.execute(
        text("SELECT declared_extent FROM collections WHERE id = :id"), {"id": collection_id}
    )
    declared = {**current, "extent": row.scalar_one()}
    return await replace_collection(session, collection_id, merge_patch(declared, patch))
