"""Collection operations both APIs call: read, search, and the writes (create, replace,
merge-patch, privacy, delete), each checked against the caller's rights once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import set_private
from catalog.access.principal import Principal, require_write
from catalog.ingest import create_collection, delete_collection
from catalog.operations.transactions import patch_collection, replace_collection
from catalog.search.collection_search import CollectionPage, search_collections
from catalog.search.lookup import get_collection
from catalog.temporal import Interval


class CollectionOperations:
    """Reading and writing collections; each write is one transaction.

    ``read_sessions``, when given, serve the reads."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.sessions = sessions
        self.read_sessions = read_sessions or sessions

    async def get(self, principal: Principal, collection_id: str) -> dict[str, Any]:
        """The collection's STAC document; ``UnknownCollection`` (also when it is hidden
        from the caller: it is not to know it exists)."""
        async with self.read_sessions() as session:
            return await get_collection(session, collection_id, principal.readable_private)

    async def search(
        self,
        principal: Principal,
        *,
        bbox: Sequence[Any] | None = None,
        datetime: str | Interval | None = None,
        q: str | Sequence[str] | None = None,
        limit: int = 10,
        token: str | None = None,
    ) -> CollectionPage:
        """The collections the caller may see that meet every condition, in id order."""
        async with self.read_sessions() as session:
            return await search_collections(
                session, bbox=bbox, datetime=datetime, q=q, limit=limit, token=token,
                readable_private=principal.readable_private,
            )

    async def create(
        self, principal: Principal, doc: Any, private: bool = False
    ) -> dict[str, Any]:
        """Create a collection (``private`` hides it); ``Conflict`` when the id is taken."""
        require_write(principal, str(doc.get("id")) if isinstance(doc, dict) else "")
        async with self.sessions() as session, session.begin():
            await create_collection(session, doc)
            if private:
                await set_private(session, doc["id"], True)
            return await get_collection(session, doc["id"])

    async def replace(
        self, principal: Principal, collection_id: str, doc: Any, private: bool | None = None
    ) -> dict[str, Any]:
        """Replace an existing collection (its items stay); ``private`` when not None."""
        require_write(principal, collection_id)
        async with self.sessions() as session, session.begin():
            await replace_collection(session, collection_id, doc)
            return await self._finish(session, collection_id, private)

    async def patch(
        self, principal: Principal, collection_id: str, patch: Any, private: bool | None = None
    ) -> dict[str, Any]:
        """Merge-patch an existing collection (RFC 7396); ``private`` when not None."""
        require_write(principal, collection_id)
        async with self.sessions() as session, session.begin():
            await patch_collection(session, collection_id, patch)
            return await self._finish(session, collection_id, private)

    async def set_private(
        self, principal: Principal, collection_id: str, private: bool
    ) -> dict[str, Any]:
        """Hide the collection from callers without rights on it, or show it to all."""
        require_write(principal, collection_id)
        async with self.sessions() as session, session.begin():
            return await self._finish(session, collection_id, private)

    async def delete(self, principal: Principal, collection_id: str) -> None:
        """Delete a collection with all its items and assets."""
        require_write(principal, collection_id)
        async with self.sessions() as session, session.begin():
            await delete_collection(session, collection_id)

    @staticmethod
    async def _finish(
        session: AsyncSession, collection_id: str, private: bool | None
    ) -> dict[str, Any]:
        if private is not None:
            await set_private(session, collection_id, private)
        return await get_collection(session, collection_id)
