"""The space-time GiST index leads with a 30-day time bucket (migration 0023): the bucket
is what an independent computation gives, the migration builds the index on every
partition and sub-partition and drops the old one (and undoing it brings that back),
partitions made later get it, and searches serve the same items throughout."""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.db.migrate import alembic_config, upgrade
from catalog.db.partitions import split_collection
from catalog.ingest import upsert_items
from catalog.search import build_search
from catalog.search.engine import search_rows
from catalog.search.render import item_parts
from catalog.stac import normalize_items
from tests.support.databases import create_migrated_database, drop_database
from tests.support.loading import catalog_with_items

BUCKET = importlib.import_module("catalog.db.migrations.versions.0023_item_time_bucket_gist")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _item(n: int, collection: str, when: datetime) -> dict[str, Any]:
    x, y = (n * 7) % 40 / 10, (n * 3) % 30 / 10
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"item-{n:03d}",
        "collection": collection, "stac_extensions": [],
        "geometry": {"type": "Point", "coordinates": [x, y]},
        "bbox": [x, y, x, y],
        "properties": {"datetime": when.isoformat().replace("+00:00", "Z")},
        "links": [], "assets": {},
    }


def _when(n: int) -> datetime:
    return datetime(2021, 1, 1, tzinfo=UTC) + timedelta(days=(n * 37) % 400, hours=n % 24)


@pytest.fixture
async def catalog() -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = create_migrated_database("time_bucket")
    engine = create_engine(url, pool_size=3)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await catalog_with_items(
            session,
            [_item(n, "c", _when(n)) for n in range(120)]
            + [_item(n, "d", _when(n + 5)) for n in range(40)],
            ("c", "d"),
        )
    yield url, engine
    await engine.dispose()
    drop_database(url)


async def test_the_bucket_is_the_number_of_30_day_spans_since_1970(
    catalog: tuple[str, AsyncEngine],
) -> None:
    _url, engine = catalog
    rng = random.Random(3)
    times = [EPOCH, EPOCH - timedelta(microseconds=1), EPOCH + timedelta(days=30),
             EPOCH + timedelta(days=30) - timedelta(microseconds=1)]
    times += [EPOCH + timedelta(seconds=rng.uniform(-3e9, 6e9)) for _ in range(200)]
    async with engine.connect() as conn:
        for when in times:
            got = (await conn.execute(
                text("SELECT stacql_time_bucket(:t)"), {"t": when}
            )).scalar_one()
            assert got == math.floor((when - EPOCH) / timedelta(days=30)), when
        ends = (await conn.execute(text(
            "SELECT stacql_time_bucket('infinity'), stacql_time_bucket('-infinity')"
        ))).one()
    assert tuple(ends) == (2**31 - 1, -(2**31))


async def _leaf_indexes(engine: AsyncEngine) -> dict[str, tuple[str, bool] | None]:
    """For every table under ``items``: its index under the new partitioned index (name,
    valid), or None; and whether any index of the old definition is left."""
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT c.relname, ix.relname, i.indisvalid "
            "FROM pg_partition_tree('items') t JOIN pg_class c ON c.oid = t.relid "
            "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indexrelid IN ("
            "  SELECT relid FROM pg_partition_tree(to_regclass('items_time_bucket_gist'))) "
            "LEFT JOIN pg_class ix ON ix.oid = i.indexrelid"
        ))
        found = {r[0]: (None if r[1] is None else (r[1], r[2])) for r in rows}
        old = (await conn.execute(text(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE pg_get_indexdef(i.indexrelid) LIKE '%USING gist (geometry, datetime)'"
        ))).scalar_one()
    found["old definition left"] = (str(old), old == 0)
    return found


def _tables(indexes: dict[str, Any]) -> int:
    return len(indexes) - 1


async def _served(sessions: async_sessionmaker[AsyncSession]) -> list[list[tuple[str, str]]]:
    """Pages of area and window searches, newest first, as (collection, id): only the
    keys are read, so the pages are served at the older revisions too (a whole document
    merges template assets with a function of migration 0024)."""
    pages = []
    async with sessions() as session:
        for start, days in ((None, None), ("2021-02-01", 40), ("2021-06-15", 90),
                            ("2021-12-20", 30)):
            params: dict[str, Any] = {"bbox": [0, 0, 2.5, 2.0], "limit": 1000}
            if start is not None:
                end = datetime.fromisoformat(start) + timedelta(days=days)
                params["datetime"] = f"{start}T00:00:00Z/{end:%Y-%m-%d}T00:00:00Z"
            page = await search_rows(session, build_search(**params), item_parts([]))
            pages.append([(row["collection"], row["id"]) for row in page.rows])
    return pages


async def test_the_migration_indexes_every_partition_and_undoing_it_restores_the_old_index(
    catalog: tuple[str, AsyncEngine],
) -> None:
    url, engine = catalog
    sessions = create_sessionmaker(engine)
    await split_collection(engine, "c", "month")
    served = await _served(sessions)
    assert sum(map(len, served)) > 40  # the windows hold items
    await engine.dispose()
    command.downgrade(alembic_config(url), BUCKET.down_revision)
    before = await _leaf_indexes(engine)
    # On every table: items, c (split: its months and its default) and d.
    assert before["old definition left"] == (str(_tables(before)), False)
    assert _tables(before) > 10
    assert await _served(sessions) == served
    await engine.dispose()
    upgrade(url)

    after = await _leaf_indexes(engine)
    assert after.pop("old definition left") == ("0", True)
    assert all(entry is not None and entry[1] for entry in after.values()), after
    async with engine.connect() as conn:
        suffix = (await conn.execute(text("SELECT stacql_item_partition_suffix('c')"))).scalar()
    names = {entry[0] for entry in after.values() if entry}
    assert f"items_time_bucket_gist__{suffix}" in names
    assert f"items_time_bucket_gist__{suffix}_m202101" in names
    assert await _served(sessions) == served

    # A month and a collection that arrive later get the index too.
    async with sessions() as session, session.begin():
        await catalog_with_items(session, [_item(1, "e", _when(1))], ("e",))
        report = await upsert_items(session, normalize_items(
            [_item(500, "c", datetime(2023, 5, 2, tzinfo=UTC))]
        ))
        assert report.inserted == 1
    later = await _leaf_indexes(engine)
    later.pop("old definition left")
    assert len(later) == len(after) + 2
    assert all(entry is not None and entry[1] for entry in later.values()), later
