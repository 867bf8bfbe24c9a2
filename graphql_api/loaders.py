"""Dataloaders: one query per batch of keys, so a page never costs a query per item.

Each batch opens its own session (an ``AsyncSession`` must not be shared by tasks that
run at the same time, and resolvers of one page do).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from catalog.db.errors import translate_db_errors
from catalog.search.assets import AssetRow, ItemKey, assets_of_items
from catalog.search.lookup import collections, visible
from catalog.search.render import item_parts, items
from catalog.search.where import hidden_collections

ITEM_DEFAULT_PARTS = (
    "datetime", "start_datetime", "end_datetime", "geometry", "bbox", "properties", "links",
    "stac_version", "stac_extensions", "updated_at", "stac",
)


class Loaders:
    """The dataloaders of one request."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readable_private: Callable[[], Awaitable[frozenset[str] | None]],
    ) -> None:
        self._sessions = sessions
        self._readable_private = readable_private
        self.assets = DataLoader(self._load_assets)
        self.collections = DataLoader(self._load_collections)
        self.items = DataLoader(self._load_items)

    async def _load_assets(self, keys: Sequence[ItemKey]) -> list[list[AssetRow]]:
        async with self._sessions() as session:
            found = await assets_of_items(session, list(keys))
        return [found[key] for key in keys]

    async def _load_collections(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        query = select(collections.c.id, collections.c.content).where(
            collections.c.id.in_(list(ids)), visible(await self._readable_private())
        )
        async with self._sessions() as session:
            with translate_db_errors():
                rows = {key: doc for key, doc in (await session.execute(query)).all()}
        return [rows.get(i) for i in ids]

    async def _load_items(self, keys: Sequence[ItemKey]) -> list[dict[str, Any] | None]:
        readable = await self._readable_private()
        query = select(*item_parts(ITEM_DEFAULT_PARTS)).where(
            tuple_(items.c.collection_id, items.c.id).in_(list(keys))
        )
        if readable is not None:
            query = query.where(~items.c.collection_id.in_(hidden_collections(readable)))
        async with self._sessions() as session:
            with translate_db_errors():
                rows = (await session.execute(query)).mappings().all()
        by_key = {(row["collection"], row["id"]): dict(row) for row in rows}
        return [by_key.get(key) for key in keys]
