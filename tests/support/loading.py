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
