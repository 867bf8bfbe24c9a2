"""Direct reads by key: one collection, all collections, one item."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.db.models import Collection
from catalog.errors import ItemNotFound, UnknownCollection
from catalog.search.fields import items
from catalog.search.render import item_json

collections = Collection.__table__


async def list_collections(session: AsyncSession) -> list[dict[str, Any]]:
    """Every collection's STAC document (extent kept current), ordered by id."""
    with translate_db_errors():
        rows = await session.execute(select(collections.c.content).order_by(collections.c.id))
    return [row[0] for row in rows]


async def get_collection(session: AsyncSession, collection_id: str) -> dict[str, Any]:
    """One collection's STAC document; raises ``UnknownCollection``."""
    with translate_db_errors():
        row = await session.execute(
            select(collections.c.content).where(collections.c.id == collection_id)
        )
    content = row.scalar_one_or_none()
    if content is None:
        raise UnknownCollection(f"no collection {collection_id!r}")
    return content


async def get_item(session: AsyncSession, collection_id: str, item_id: str) -> dict[str, Any]:
    """One item's STAC document; raises ``UnknownCollection`` or ``ItemNotFound``."""
    query = select(item_json()).where(items.c.collection_id == collection_id, items.c.id == item_id)
    with translate_db_errors():
        document = (await session.execute(query)).scalar_one_or_none()
    if document is None:
        await get_collection(session, collection_id)
        raise ItemNotFound(f"no item {item_id!r} in collection {collection_id!r}")
    return document
