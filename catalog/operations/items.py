"""Item operations both APIs call: read one item, and the writes (create, replace,
merge-patch, bulk upsert, delete), each checked against the caller's rights once and
followed by the injected post-write hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access.principal import Principal, require_write
from catalog.errors import InvalidInput
from catalog.ingest import UpsertSummary, delete_item, upsert_items
from catalog.operations.hooks import WriteHooks
from catalog.operations.transactions import create_item, insert_items, patch_item, replace_item
from catalog.search.lookup import get_collection, get_item
from catalog.stac.items import normalize_items


@dataclass(frozen=True)
class ItemWritten:
    """One stored item (as read back) and the ids of the jobs its write queued."""

    item: dict[str, Any]
    jobs: list[str]


@dataclass(frozen=True)
class ItemsWritten:
    """What a bulk write did, the ids of its items, and the jobs it queued."""

    summary: UpsertSummary
    ids: list[str]
    jobs: list[str]


class ItemOperations:
    """Reading and writing items; writes run in one transaction each and then the hooks.

    ``read_sessions``, when given, serve the reads."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        hooks: WriteHooks | None = None,
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.sessions = sessions
        self.read_sessions = read_sessions or sessions
        self.hooks = hooks or WriteHooks()

    async def get(self, principal: Principal, collection_id: str, item_id: str) -> dict[str, Any]:
        """The item's STAC document; ``UnknownCollection`` (also for a collection hidden
        from the caller) or ``ItemNotFound``."""
        async with self.read_sessions() as session:
            return await get_item(session, collection_id, item_id, principal.readable_private)

    async def create(self, principal: Principal, collection_id: str, doc: Any) -> ItemWritten:
        """Create one item; ``Conflict`` when its id exists."""
        require_write(principal, collection_id)
        async with self.sessions() as session, session.begin():
            stored = await create_item(session, collection_id, doc)
        return ItemWritten(stored, await self.hooks.items_written([stored]))

    async def replace(
        self, principal: Principal, collection_id: str, item_id: str, doc: Any
    ) -> ItemWritten:
        """Replace an existing item; ``ItemNotFound`` when there is none."""
        require_write(principal, collection_id)
        async with self.sessions() as session, session.begin():
            stored = await replace_item(session, collection_id, item_id, doc)
        return ItemWritten(stored, await self.hooks.items_written([stored]))

    async def patch(
        self, principal: Principal, collection_id: str, item_id: str, patch: Any
    ) -> ItemWritten:
        """Merge-patch an existing item (RFC 7396)."""
        require_write(principal, collection_id)
        async with self.sessions() as session, session.begin():
            stored = await patch_item(session, collection_id, item_id, patch)
        return ItemWritten(stored, await self.hooks.items_written([stored]))

    async def insert(
        self, principal: Principal, collection_id: str, docs: list[Any]
    ) -> ItemsWritten:
        """Insert or replace items of one existing collection, all or nothing."""
        require_write(principal, collection_id)
        async with self.sessions() as session, session.begin():
            summary = await insert_items(session, collection_id, docs)
        written = [{**doc, "collection": collection_id} for doc in docs]
        return ItemsWritten(
            summary, [str(doc.get("id")) for doc in written],
            await self.hooks.items_written(written),
        )

    async def upsert(
        self, principal: Principal, docs: list[Any], collection_id: str | None = None
    ) -> ItemsWritten:
        """Insert or replace items of any collections the caller may write to, all or
        nothing; ``collection_id`` fills in items without a ``collection``."""
        if not docs:
            raise InvalidInput("items is empty")
        records = normalize_items(docs, collection_id)
        for target in sorted({r.collection_id for r in records}):
            require_write(principal, target)
        async with self.sessions() as session, session.begin():
            summary = await upsert_items(session, records)
        written = [{**doc, "collection": doc.get("collection") or collection_id} for doc in docs]
        return ItemsWritten(
            summary, [r.id for r in records], await self.hooks.items_written(written)
        )

    async def delete(self, principal: Principal, collection_id: str, item_id: str) -> None:
        """Delete an item and its assets; ``UnknownCollection`` or ``ItemNotFound``."""
        require_write(principal, collection_id)
        async with self.sessions() as session, session.begin():
            await get_collection(session, collection_id)
            await delete_item(session, collection_id, item_id)
