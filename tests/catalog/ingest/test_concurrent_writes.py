"""Writers racing on one collection neither deadlock nor lose an item, and a collection
is not deleted from under a batch being written."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.ingest.collections import delete_collection, upsert_collection
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


async def _create_race_collection(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await upsert_collection(session, {
            "type": "Collection", "stac_version": "1.1.0", "id": "race", "description": "d",
            "license": "MIT", "links": [],
            "extent": {"spatial": {"bbox": [[0, 0, 1, 1]]},
                       "temporal": {"interval": [[None, None]]}},
        })


async def test_concurrent_upserts_into_one_collection(
    scratch_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _create_race_collection(scratch_sessions)

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


async def test_a_collection_is_deleted_only_after_the_batch_being_written(
    scratch_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _create_race_collection(scratch_sessions)

    async def delete() -> None:
        async with scratch_sessions() as session, session.begin():
            await delete_collection(session, "race")

    async with scratch_sessions() as writer, writer.begin():
        await upsert_items(writer, normalize_items([_item(0, 0, n) for n in range(3)]))
        deleting = asyncio.create_task(delete())
        await asyncio.sleep(0.5)
        # The batch holds its collection: the deletion waits for the commit.
        assert not deleting.done()
    await asyncio.wait_for(deleting, timeout=10)
    async with scratch_sessions() as session:
        left = (await session.execute(text(
            "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM collections)"
        ))).one()
    assert tuple(left) == (0, 0)
