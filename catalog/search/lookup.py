"""Direct reads by key: one collection, all collections, one item."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.db.models import Collection
from catalog.errors import ItemNotFound, UnknownCollection
from catalog.search.render import item_lookup

collections = Collection.__table__


def visible(readable_private: frozenset[str] | None) -> ColumnElement[bool]:
    """Collections a caller may see: public ones and the private ones it may read
    (``None``: every collection)."""
    if readable_private is None:
        return true()
    return or_(~collections.c.private, collections.c.id.in_(sorted(readable_private)))


async def list_collections(
    session: AsyncSession, readable_private: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """Every visible collection's STAC document (extent kept current), ordered by id."""
    query = select(collections.c.content).where(visible(readable_private))
    with translate_db_errors():
        rows = await session.execute(query.order_by(collections.c.id))
    return [row[0] for row in rows]


async def get_collection(
    session: AsyncSession, collection_id: str, readable_private: frozenset[str] | None = None
) -> dict[str, Any]:
    """One collection's STAC document; raises ``UnknownCollection`` (also for a private
    collection the caller may not read: it is not to know it exists)."""
    query = select(collections.c.content).where(
        collections.c.id == collection_id, visible(readable_private)
    )
    with translate_db_errors():
        content = (await session.execute(query)).scalar_one_or_none()
    if content is None:
        raise UnknownCollection(f"no collection {collection_id!r}")
    return content


async def get_item(
    session: AsyncSession,
    collection_id: str,
    item_id: str,
    readable_private: frozenset[str] | None = None,
) -> dict[str, Any]:
    """One item's STAC document; raises ``UnknownCollection`` or ``ItemNotFound``."""
    if readable_private is not None:
        await get_collection(session, collection_id, readable_private)
    with translate_db_errors():
        document = (await session.execute(
            item_lookup(), {"collection_id": collection_id, "item_id": item_id}
        )).scalar_one_or_none()
    if document is None:
        await get_collection(session, collection_id)
        raise ItemNotFound(f"no item {item_id!r} in collection {collection_id!r}")
    return document
