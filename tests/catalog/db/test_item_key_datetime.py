"""The key of ``items`` holds the datetime (migration 0021): an id stays unique in its
collection through every write (a changed datetime updates the stored item, a copy
beside it or a concurrent writer's replaces it), no such update is recorded as a
deletion, and the migration undone and done again keeps every item as served."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.db.migrate import alembic_config, upgrade
from catalog.ingest import upsert_items
from catalog.ingest.items import prepare_items, upsert_prepared
from catalog.search import build_search, search
from catalog.search.lookup import get_item
from catalog.stac import normalize_items
from catalog.stac.items import ItemRecord
from tests.support.databases import create_migrated_database, drop_database
from tests.support.loading import catalog_with_items

KEY = importlib.import_module("catalog.db.migrations.versions.0021_item_key_datetime")
COUNT = 30


def _item(n: int, year: int = 2021, collection: str = "c") -> dict[str, Any]:
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"item-{n:02d}",
        "collection": collection, "stac_extensions": [],
        "geometry": {"type": "Point", "coordinates": [n / 10, n / 20]},
        "bbox": [n / 10, n / 20, n / 10, n / 20],
        "properties": {"datetime": f"{year}-0{n % 9 + 1}-{n % 28 + 1:02d}T00:00:00Z", "n": n},
        "links": [],
        "assets": {"data": {"href": f"https://x.test/{n}.tif", "roles": ["data"]}},
    }


def _records(items: list[dict[str, Any]]) -> list[ItemRecord]:
    return normalize_items(items)


@pytest.fixture
async def catalog() -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = create_migrated_database("item_key")
    engine = create_engine(url, pool_size=3)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await catalog_with_items(session, [_item(n) for n in range(COUNT)]
                                 + [_item(n, collection="d") for n in range(5)], ("c", "d"))
    yield url, engine
    await engine.dispose()
    drop_database(url)


async def _rows(engine: AsyncEngine, item_id: str) -> list[datetime]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT datetime FROM items WHERE collection_id = 'c' AND id = :i"
        ), {"i": item_id})).scalars())


async def _deletions(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(
            text("SELECT count(*) FROM saved_search_deletions")
        )).scalar_one())


async def _served(sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
    async with sessions() as session:
        page = await search(session, build_search(limit=1000))
        looked_up = [await get_item(session, "c", f"item-{n:02d}") for n in range(COUNT)]
    return [sorted(page.items, key=lambda i: (i["collection"], i["id"])), looked_up]


async def _stored(engine: AsyncEngine) -> list[Any]:
    """Every item row as it was given, read with migration 0020's functions: today's
    documents need migration 0024, so at the older revision the rows are compared."""
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT collection_id, id, datetime, ST_AsText(geometry), properties, "
            "stacql_item_assets(assets, template_id), "
            "stacql_item_extensions(stac_extensions, template_id) "
            "FROM items ORDER BY collection_id, id"
        ))).all())


async def _key_columns(engine: AsyncEngine) -> set[tuple[str, str]]:
    """(table, key columns) of ``items`` and every partition."""
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_partition_tree('items') t "
            "JOIN pg_class c ON c.oid = t.relid "
            "JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary"
        ))
        return {(r[0], r[1][r[1].rindex("("):]) for r in rows}


async def test_the_key_holds_the_datetime_and_undoing_the_migration_keeps_every_item(
    catalog: tuple[str, AsyncEngine],
) -> None:
    url, engine = catalog
    sessions = create_sessionmaker(engine)
    keys = await _key_columns(engine)
    assert len(keys) == 3  # items and the partitions of c and d
    assert {columns for _, columns in keys} == {"(collection_id, id, datetime)"}
    served, stored = await _served(sessions), await _stored(engine)
    assert len(stored) == COUNT + 5
    await engine.dispose()
    command.downgrade(alembic_config(url), KEY.down_revision)
    assert {columns for _, columns in await _key_columns(engine)} == {"(collection_id, id)"}
    assert await _stored(engine) == stored
    await engine.dispose()
    upgrade(url)
    assert await _key_columns(engine) == keys
    assert await _served(sessions) == served
    assert await _stored(engine) == stored
    async with engine.connect() as conn:  # no index left behind by the swaps
        names = (await conn.execute(text(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_key\\_new'"
        ))).scalar_one()
    assert names == 0


async def test_a_changed_datetime_updates_the_stored_item(
    catalog: tuple[str, AsyncEngine],
) -> None:
    _, engine = catalog
    sessions = create_sessionmaker(engine)
    moved = _item(3, year=2024)
    async with sessions() as session, session.begin():
        summary = await upsert_items(session, _records([_item(n) for n in range(COUNT)
                                                        if n != 3] + [moved]))
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, COUNT - 1)
    assert await _rows(engine, "item-03") == [datetime(2024, 4, 4, tzinfo=UTC)]
    assert await _deletions(engine) == 0
    async with sessions() as session:
        assert (await get_item(session, "c", "item-03"))["properties"]["datetime"] == (
            "2024-04-04T00:00:00Z"
        )


async def test_an_item_copied_as_new_beside_a_stored_one_replaces_it(
    catalog: tuple[str, AsyncEngine],
) -> None:
    """The bulk load's path for batches believed new: the COPY meets no key violation
    when the stored item has another datetime."""
    _, engine = catalog
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        summary = await upsert_prepared(
            session, prepare_items(_records([_item(5, year=2023), _item(COUNT)])),
            likely_new=True,
        )
    assert (summary.inserted, summary.updated, summary.unchanged) == (1, 1, 0)
    assert await _rows(engine, "item-05") == [datetime(2023, 6, 6, tzinfo=UTC)]
    assert len(await _rows(engine, f"item-{COUNT}")) == 1
    assert await _deletions(engine) == 0


async def test_concurrent_writers_of_one_id_with_two_datetimes_leave_one_item(
    catalog: tuple[str, AsyncEngine],
) -> None:
    _, engine = catalog
    sessions = create_sessionmaker(engine)
    new = [_item(COUNT + 1, year=2022)]
    later = [_item(COUNT + 1, year=2025)]
    first = sessions()
    async with first.begin():
        assert (await upsert_items(first, _records(new))).inserted == 1
        # The second writer copies its row, then waits for the collection's lock.
        async def second() -> tuple[int, int]:
            async with sessions() as session, session.begin():
                summary = await upsert_items(session, _records(later))
                return summary.inserted, summary.updated

        waiting = asyncio.create_task(second())
        await asyncio.sleep(1.5)
        assert not waiting.done()
    await first.close()
    assert await waiting == (0, 1)
    assert await _rows(engine, f"item-{COUNT + 1}") == [datetime(2025, 5, 4, tzinfo=UTC)]
    assert await _deletions(engine) == 0
    async with sessions() as session, session.begin():
        for year in (2019, 2026):  # and back, through both paths
            await upsert_items(session, _records([_item(COUNT + 1, year=year)]))
    assert len(await _rows(engine, f"item-{COUNT + 1}")) == 1
