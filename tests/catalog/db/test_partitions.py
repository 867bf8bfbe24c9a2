"""Items partitioned by collection: a partition per new collection, pruning, and the
online migration of a catalog that was one table (default partition, then moved out).

Search results are compared before and after each step with the same searches, so a
row lost, duplicated or left out of an index shows as a difference.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.db.migrate import alembic_config, upgrade
from catalog.db.partitions import (
    DEFAULT_PARTITION,
    collections_in_default,
    drop_orphaned_partitions,
    item_partitions,
    move_all_to_own_partitions,
)
from catalog.ingest import load_path
from catalog.search import build_search, search
from catalog.search.engine import page_statement
from catalog.search.fields import items
from catalog.search.property_indexes import create_property_index
from tests.support.databases import create_migrated_database, drop_database
from tests.support.paths import REPO, SHARED

PARTITIONS = importlib.import_module("catalog.db.migrations.versions.0018_item_partitions")
BEFORE_PARTITIONS = PARTITIONS.down_revision


def _generate(tmp_path: Path, name: str, n: int, seed: int) -> tuple[Path, Path]:
    items_file = tmp_path / f"{name}.ndjson"
    collection = tmp_path / f"{name}-collection.json"
    subprocess.run(
        [sys.executable, str(SHARED / "peer" / "gen_items.py"), "--n", str(n),
         "--seed", str(seed), "--collection", name, "--out", str(items_file),
         "--collection-out", str(collection)],
        check=True, capture_output=True,
    )
    return collection, items_file


async def _load(sessions: async_sessionmaker[AsyncSession], *paths: Path) -> None:
    for path in paths:
        assert (await load_path(sessions, path)).ok


SEARCHES: list[dict[str, Any]] = [
    {"limit": 1000},
    {"collections": ["alpha"], "limit": 1000},
    {"collections": ["beta"], "bbox": [-100, 20, -60, 50], "limit": 1000},
    {"bbox": [-120, 10, 0, 60], "datetime": "2020-01-01T00:00:00Z/2022-12-31T23:59:59Z",
     "limit": 1000},
    {"sortby": "-eo:cloud_cover", "limit": 200},
]


async def _results(sessions: async_sessionmaker[AsyncSession]) -> list[list[tuple[str, str]]]:
    found = []
    async with sessions() as session:
        for params in SEARCHES:
            page = await search(session, build_search(**params))
            found.append([(f["collection"], f["id"]) for f in page.items])
    return found


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session:
        n_items = (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()
        n_assets = (await session.execute(text("SELECT count(*) FROM assets"))).scalar_one()
    return n_items, n_assets


async def _partitions(engine: AsyncEngine) -> dict[str | None, str]:
    async with engine.connect() as conn:
        return {p.collection_id: p.table for p in await item_partitions(conn)}


def _scanned_relations(plan: dict[str, Any]) -> set[str]:
    found = {plan["Relation Name"]} if "Relation Name" in plan else set()
    for child in plan.get("Plans", ()):
        found |= _scanned_relations(child)
    return found


@pytest.fixture
async def fresh() -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    url = create_migrated_database("partitions")
    engine = create_engine(url, pool_size=2)
    yield engine, create_sessionmaker(engine)
    await engine.dispose()
    drop_database(url)


async def test_each_new_collection_gets_a_partition_that_searches_prune_to(
    fresh: tuple[AsyncEngine, async_sessionmaker[AsyncSession]], tmp_path: Path
) -> None:
    engine, sessions = fresh
    await _load(sessions, *_generate(tmp_path, "alpha", 300, 1),
                *_generate(tmp_path, "beta", 200, 2))
    parts = await _partitions(engine)
    assert set(parts) == {"alpha", "beta"}, parts  # no default partition in a new catalog
    async with sessions() as session:
        for collection_id, expected in (("alpha", 300), ("beta", 200)):
            rows = await session.execute(text(f'SELECT count(*) FROM "{parts[collection_id]}"'))
            assert rows.scalar_one() == expected
        await session.execute(text("ANALYZE items"))
        query = page_statement(build_search(collections=["beta"], bbox=[-100, 20, -60, 50]),
                               [items.c.id])
        sql = str(query.compile(dialect=postgresql.dialect(),
                                compile_kwargs={"literal_binds": True}))
        plan = (await session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
    scanned = _scanned_relations(plan[0]["Plan"]) - {"collections"}
    assert scanned == {parts["beta"]}, plan


async def test_a_deleted_collection_comes_back_into_its_partition(
    fresh: tuple[AsyncEngine, async_sessionmaker[AsyncSession]], tmp_path: Path
) -> None:
    engine, sessions = fresh
    collection, items_file = _generate(tmp_path, "alpha", 50, 3)
    await _load(sessions, collection, items_file)
    before = await _partitions(engine)
    async with sessions() as session, session.begin():
        await session.execute(text("DELETE FROM collections WHERE id = 'alpha'"))
    assert await _counts(sessions) == (0, 0)
    await _load(sessions, collection, items_file)
    assert await _partitions(engine) == before
    assert (await _counts(sessions))[0] == 50


async def test_a_catalog_of_one_table_is_migrated_and_moved_out_with_the_same_results(
    fresh: tuple[AsyncEngine, async_sessionmaker[AsyncSession]], tmp_path: Path
) -> None:
    engine, sessions = fresh
    url = engine.url.render_as_string(hide_password=False)
    await _load(sessions, *_generate(tmp_path, "alpha", 400, 4),
                *_generate(tmp_path, "beta", 300, 5))
    reference, counts = await _results(sessions), await _counts(sessions)

    # Back to one table, as a catalog was before partitions...
    await engine.dispose()
    command.downgrade(alembic_config(url), BEFORE_PARTITIONS)
    async with sessions() as session:
        kind = await session.execute(
            text("SELECT relkind::text FROM pg_class WHERE oid = 'items'::regclass"))
        assert kind.scalar_one() == "r"
    # (This code's searches read the columns of migration 0019: compared after upgrade.)
    assert await _counts(sessions) == counts

    # ...whose upgrade keeps every row in the default partition, copying none.
    await engine.dispose()
    upgrade(url)
    assert await _partitions(engine) == {None: DEFAULT_PARTITION}
    assert await _results(sessions) == reference
    await create_property_index(engine, "eo:cloud_cover", "beta")
    assert await _declared_index(sessions) == (DEFAULT_PARTITION, False, 3)  # partial there
    # A new collection joins the default partition while it holds rows.
    await _load(sessions, *_generate(tmp_path, "gamma", 100, 6))
    async with engine.connect() as conn:
        assert await collections_in_default(conn) == ["alpha", "beta", "gamma"]
    with_gamma, before_move = await _counts(sessions), await _results(sessions)

    assert await move_all_to_own_partitions(engine) == with_gamma[0]
    parts = await _partitions(engine)
    assert set(parts) == {"alpha", "beta", "gamma"}, parts  # the default one dropped
    assert await _results(sessions) == before_move
    assert await _counts(sessions) == with_gamma  # moving fired no asset deletion
    # Carried to its partition, and whole there: it then serves sorts across collections.
    assert await _declared_index(sessions) == (parts["beta"], True, 3)


async def _declared_index(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, bool, int]:
    """The table of the one declared property index, whether it is whole (not partial),
    and its number of key columns."""
    async with sessions() as session:
        index = await session.execute(text(
            "SELECT i.indrelid::regclass::text, i.indpred IS NULL, i.indnkeyatts "
            "FROM property_indexes d JOIN pg_index i ON i.indexrelid = to_regclass(d.index_name)"
        ))
        return tuple(index.one())  # type: ignore[return-value]


async def test_the_command_line_lists_the_partitions(
    fresh: tuple[AsyncEngine, async_sessionmaker[AsyncSession]], tmp_path: Path
) -> None:
    engine, sessions = fresh
    await _load(sessions, *_generate(tmp_path, "alpha", 20, 7))
    url = engine.url.render_as_string(hide_password=False)
    listed = subprocess.run(
        [sys.executable, "-m", "stacql.cli", "db", "partitions", "list"],
        check=True, capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "STACQL_DATABASE_URL": url},
    )
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    parts = await _partitions(engine)
    assert [(r[0], r[1], r[2]) for r in rows] == [(parts["alpha"], "alpha", "20")]
    moved = subprocess.run(
        [sys.executable, "-m", "stacql.cli", "db", "partitions", "move"],
        check=True, capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "STACQL_DATABASE_URL": url},
    )
    assert "moved 0 items" in moved.stderr  # nothing in a default partition


async def test_pruning_drops_only_the_partitions_of_deleted_collections(
    fresh: tuple[AsyncEngine, async_sessionmaker[AsyncSession]], tmp_path: Path
) -> None:
    engine, sessions = fresh
    alpha = _generate(tmp_path, "alpha", 30, 11)
    beta = _generate(tmp_path, "beta", 20, 12)
    await _load(sessions, *alpha, *beta)
    before = await _partitions(engine)
    async with sessions() as session, session.begin():
        await session.execute(text("DELETE FROM collections WHERE id = 'beta'"))
    assert await _partitions(engine) == before  # a delete keeps the partition

    url = engine.url.render_as_string(hide_password=False)
    pruned = subprocess.run(
        [sys.executable, "-m", "stacql.cli", "db", "partitions", "prune"],
        check=True, capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "STACQL_DATABASE_URL": url},
    )
    assert pruned.stdout.split() == ["dropped", before["beta"]], pruned
    assert await _partitions(engine) == {"alpha": before["alpha"]}
    async with engine.connect() as conn:
        gone = await conn.execute(text("SELECT to_regclass(:t)"), {"t": before["beta"]})
        assert gone.scalar() is None
    async with sessions() as session:
        left = await session.execute(text("SELECT DISTINCT collection_id FROM items"))
        assert list(left.scalars()) == ["alpha"]
    assert await drop_orphaned_partitions(engine) == []  # nothing left to prune

    await _load(sessions, *beta)  # the collection comes back in a new partition
    assert (await _partitions(engine))["beta"] == before["beta"]
    assert (await _counts(sessions))[0] == 50
