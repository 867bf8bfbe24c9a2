"""Creation, replacement and deletion of collections."""

from __future__ import annotations

from typing import Any, Literal, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.db.partitions import ensure_item_partition
from catalog.errors import Conflict, UnknownCollection
from catalog.ingest.extent import recompute_extent
from catalog.stac.collections import CollectionRecord, normalize_collection
from catalog.stac.common import content_hash, dumps

UpsertOutcome = Literal["created", "updated", "unchanged"]

# `updated_at = EXCLUDED.updated_at`: the default of the proposed row, now() (the
# transaction's time, as now() here would be); Citus refuses functions that are not
# IMMUTABLE in DO UPDATE SET (catalog.db.citus).
_UPSERT = """
INSERT INTO collections AS c (
    id, title, description, license, keywords, providers, summaries, item_assets,
    links, declared_extent, content
)
VALUES (
    :id, :title, :description, :license, :keywords, CAST(:providers AS jsonb),
    CAST(:summaries AS jsonb), CAST(:item_assets AS jsonb), CAST(:links AS jsonb),
    CAST(:extent AS jsonb), CAST(:content AS jsonb)
)
ON CONFLICT (id) DO UPDATE SET
    title = EXCLUDED.title, description = EXCLUDED.description,
    license = EXCLUDED.license, keywords = EXCLUDED.keywords,
    providers = EXCLUDED.providers, summaries = EXCLUDED.summaries,
    item_assets = EXCLUDED.item_assets, links = EXCLUDED.links,
    declared_extent = EXCLUDED.declared_extent, content = EXCLUDED.content,
    updated_at = EXCLUDED.updated_at
RETURNING (xmax = 0) AS inserted
"""


def _params(record: CollectionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "title": record.title,
        "description": record.description,
        "license": record.license,
        "keywords": record.keywords,
        "providers": dumps(record.providers),
        "summaries": dumps(record.summaries),
        "item_assets": dumps(record.item_assets),
        "links": dumps(record.links),
        "extent": dumps(record.extent),
        "content": dumps(record.content),
    }


async def _stored_declaration(session: AsyncSession, collection_id: str) -> str | None:
    row = await session.execute(
        text(
            "SELECT content || jsonb_build_object('extent', declared_extent) "
            "FROM collections WHERE id = :id"
        ),
        {"id": collection_id},
    )
    stored = row.scalar_one_or_none()
    return None if stored is None else content_hash(stored)


async def upsert_collection(session: AsyncSession, doc: Any) -> UpsertOutcome:
    """Create or replace a collection from its STAC JSON; the caller commits.

    The served extent is the declared one widened by the collection's items. Returns
    whether the collection was created, updated, or already exactly so.
    """
    record = normalize_collection(doc)
    with translate_db_errors():
        if await _stored_declaration(session, record.id) == content_hash(record.content):
            return "unchanged"
        row = await session.execute(text(_UPSERT), _params(record))
        created = row.scalar_one()
        if created:
            await ensure_item_partition(session, record.id)
        await recompute_extent(session, record.id)
    return "created" if created else "updated"


async def create_collection(session: AsyncSession, doc: Any) -> None:
    """Create a collection; raises ``Conflict`` when the id is taken."""
    record = normalize_collection(doc)
    with translate_db_errors():
        exists = await session.execute(
            text("SELECT 1 FROM collections WHERE id = :id"), {"id": record.id}
        )
        if exists.scalar():
            raise Conflict(f"collection {record.id!r} already exists")
    await upsert_collection(session, doc)


async def delete_collection(session: AsyncSession, collection_id: str) -> None:
    """Delete a collection with all its items and assets."""
    with translate_db_errors():
        result = cast(CursorResult[Any], await session.execute(
            text("DELETE FROM collections WHERE id = :id"), {"id": collection_id}
        ))
    if result.rowcount == 0:
        raise UnknownCollection(f"no collection {collection_id!r}")
