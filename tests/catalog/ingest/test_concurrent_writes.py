"""Writers racing on one collection neither deadlock nor lose an item."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.ingest.collections import upsert_collection
from catalog.ingest.items import upsert_items
from catalog.stac import normalize_items

WRITERS = 8
BATCHES = 4


def _item(writer: int, batch: int, n: int) -> dict[str, Any]:
    x = writer + n / 10
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": f"w{writer}-b{batch}-{n}",
        "collection": "race", "bbox": [x, batch, x + 0.05, batch + 0.05],
        "geometry": {"type": "Point", "coordinates": [x, batch]},
        # A new property per writer makes each batch extend the collection's queryables.
        "properties": {"datetime": f"2020-01-{batch + 1:02d}T00:00:00Z", f"p{writer}": n},
        "assets": {}, "links": [],
    }


async def test_concurrent_upserts_into_one_collection(
    scratch_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with scratch_sessions() as session, session.begin():
        await upsert_collection(session, {
            "type": "Collection", "stac_version": "1.1.0", "id": "race", "description": "d",
            "license": "MIT", "links": [],
            "extent": {"spatial": {"bbox": [[0, 0, 1, 1]]},
                       "temporal": {"interval": [[None, None]]}},
        })

    async def writer(w: int) -> None:
        for b in range(BATCHES):
            records = normalize_items([_item(w, b, n) for n in range(5)])
            async with scratch_sessions() as session, session.begin():
                await upsert_items(session, records)

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    async with scratch_sessions() as session:
        count = (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()
        queryables = (await session.execute(
            text("SELECT queryables FROM collections WHERE id = 'race'"))).scalar_one()
    assert count == WRITERS * BATCHES * 5
    assert {f"p{w}" for w in range(WRITERS)} <= set(queryables)
