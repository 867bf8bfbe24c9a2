"""Loading ``../shared/data/stac`` into a catalog, the way a user would with the CLI."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.ingest import LoadReport, load_path, upsert_collection
from tests.support.paths import STAC_DATA

# Items in the shared data whose collection document is not shipped with them.
ORPHAN_COLLECTIONS = ("CS3", "cs3", "HLSL30.v1.5", "simple-collection")


def placeholder_collection(collection_id: str) -> dict:
    """A minimal valid collection document."""
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": collection_id,
        "description": f"placeholder for the items of {collection_id}",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [],
    }


async def load_shared_stac(sessions: async_sessionmaker[AsyncSession]) -> LoadReport:
    """Load every STAC source of the shared data (placeholders for orphan items first)."""
    async with sessions() as session, session.begin():
        for collection_id in ORPHAN_COLLECTIONS:
            await upsert_collection(session, placeholder_collection(collection_id))
    return await load_path(sessions, STAC_DATA)


async def catalog_with_items(
    session: AsyncSession, items: list[dict], collections: tuple[str, ...]
) -> None:
    """Create ``collections`` (placeholders) and write ``items``, then a saved search with
    a webhook: deletions of items are then recorded for it (``saved_search_deletions``)."""
    from uuid import uuid4

    from sqlalchemy import text

    from catalog.ingest import upsert_items
    from catalog.stac import normalize_items

    for collection_id in collections:
        await upsert_collection(session, placeholder_collection(collection_id))
    await upsert_items(session, normalize_items(items))
    await session.execute(text(
        "INSERT INTO saved_searches (id, owner, name, search, webhook_url, secret) "
        "VALUES (:id, 'o', 'n', '{}', 'https://hook.test/', 's')"
    ), {"id": uuid4()})
