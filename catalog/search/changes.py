"""Items written since a moment: what change feeds (GraphQL ``itemsAdded``) read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.search.render import items
from catalog.search.request import SearchRequest
from catalog.search.where import where_clauses


async def database_now(session: AsyncSession) -> datetime:
    """The database clock (item ``updated_at`` values come from it, not from ours)."""
    with translate_db_errors():
        return (await session.execute(select(func.clock_timestamp()))).scalar_one()


async def changed_items(
    session: AsyncSession,
    request: SearchRequest,
    since: datetime,
    columns: Sequence[ColumnElement],
    limit: int = 1000,
) -> list[Any]:
    """Rows of items matching ``request``'s filters written after ``since``, oldest first;
    each row has ``updated_at`` besides ``columns``."""
    query = (
        select(*columns, items.c.updated_at.label("changed_at"))
        .where(*where_clauses(request), items.c.updated_at > since)
        .order_by(items.c.updated_at, items.c.collection_id, items.c.id)
        .limit(limit)
    )
    with translate_db_errors():
        return list((await session.execute(query)).mappings().all())
