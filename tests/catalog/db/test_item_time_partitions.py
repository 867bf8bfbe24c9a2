"""A collection split by time range (``stacql db partitions split``): every item kept
and served byte for byte as before, searches as before and pruned to the sub-partitions
of their time range, sub-partitions made as data arrives, items whose datetime changes
moved between them (one row, an update, no deletion), property indexes on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.db.partitions import item_partitions, item_subpartitions, split_collection
from catalog.ingest import upsert_items
from catalog.search import build_search, search
from catalog.search.engine import page_statement
from catalog.search.fields import items
from catalog.search.lookup import get_item
from catalog.search.property_indexes import create_property_index, list_property_indexes
from catalog.stac import normalize_items
from tests.support.databases import create_migrated_database, drop_database
from tests.support.loading import catalog_with_items
from tests.support.paths import REPO

COUNT = 80
YEARS = (2019, 2020, 2021, 2022)


def _item(n: int, collection: str = "c", year: int | None = None) -> dict[str, Any]:
    year = YEARS[n % len(YEARS)] if year is None else year
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"item-{n:03d}",
        "collection": collection, "stac_extensions": [],
        "geometry": {"type": "Point", "coordinates": [n / 10 - 4, n / 20]},
        "bbox": [n / 10 - 4, n / 20, n / 10 - 4, n / 20],
        "properties": {"datetime": f"{year}-{n % 12 + 1:02d}-{n % 28 + 1:02d}T0{n % 10}:00:00Z",
                       "n": n, "cloud": (n * 37) % 100},
        "links": [],
        "assets": {"data": {"href": f"https://x.test/{n}.tif", "roles": ["data"]}},
    }


SEARCHES: list[dict[str, Any]] = [
    {"limit": 1000},
    {"collections": ["c"], "limit": 1000},
    {"collections": ["c"], "datetime": "2020-01-01T00:00:00Z/2020-12-31T23:59:59Z",
     "limit": 1000},
    {"collections": ["c"], "datetime": "2019-06-01T00:00:00Z/2021-03-01T00:00:00Z",
     "bbox": [-4, 0, 2, 3], "limit": 7},
    {"collections": ["c", "d"], "sortby": "-properties.cloud", "limit": 30},
]


@pytest.fixture
async def catalog() -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    url = create_migrated_database("time_parts")
    engine = create_engine(url, pool_size=3)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await catalog_with_items(session, [_item(n) for n in range(COUNT)]
                                 + [_item(n, "d") for n in range(10)], ("c", "d"))
    yield engine, sessions
    await engine.dispose()
    drop_database(url)


async def _served(sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
    """Every item as served (JSON text, in the order served) and every search's ids."""
    async with sessions() as session:
        documents = [json.dumps(await get_item(session, "c", f"item-{n:03d}"))
                     for n in range(COUNT)]
        found = []
        for params in SEARCHES:
            page = await search(session, build_search(**params))
            found.append([json.dumps(item) for item in page.items])
    return [documents, found]


def _scanned(plan: dict[str, Any]) -> set[str]:
    found = {plan["Relation Name"]} if "Relation Name" in plan else set()
    for child in plan.get("Plans", ()):
        found |= _scanned(child)
    return found


def _parts(plan: dict[str, Any]) -> list[frozenset[str]]:
    """The tables of items each part of a plan reads: under the outermost Append (a
    search in a time window is a union of parts, ``catalog.search.engine.time_splits``;
    a search without is one Append of the tables it reads), what each child reads."""
    if plan.get("Node Type") == "Append":
        return [frozenset(_scanned(child) - {"collections"}) for child in plan["Plans"]]
    return [part for child in plan.get("Plans", ()) for part in _parts(child)]


async def _plan(
    sessions: async_sessionmaker[AsyncSession], **params: Any
) -> set[frozenset[str]]:
    async with sessions() as session:
        await session.execute(text("ANALYZE items"))
        query = page_statement(build_search(**params), [items.c.id])
        sql = str(query.compile(dialect=postgresql.dialect(),
                                compile_kwargs={"literal_binds": True}))
        plan = (await session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
    return set(_parts(plan[0]["Plan"]))


async def _partition(engine: AsyncEngine, collection_id: str) -> str:
    async with engine.connect() as conn:
        return next(p.table for p in await item_partitions(conn)
                    if p.collection_id == collection_id)


async def test_a_split_collection_serves_the_same_and_searches_prune_by_time(
    catalog: tuple[AsyncEngine, async_sessionmaker[AsyncSession]],
) -> None:
    engine, sessions = catalog
    before = await _served(sessions)
    table = await _partition(engine, "c")
    steps: list[str] = []
    report = await split_collection(engine, "c", "year", steps.append)
    assert report.moved == COUNT
    assert report.tables == sorted([f"{table}_default"] + [f"{table}_y{y}" for y in YEARS])
    assert steps[-1] == "done"
    assert await _partition(engine, "c") == table
    async with engine.connect() as conn:
        subs = {s.table: s for s in await item_subpartitions(conn)}
        counts = {name: (await conn.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar()
                  for name in subs}
    assert counts == {f"{table}_default": 0} | {f"{table}_y{y}": COUNT // 4 for y in YEARS}
    assert subs[f"{table}_y2020"].bound == (
        "FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2021-01-01 00:00:00+00')"
    )
    assert await _served(sessions) == before
    # Items whose datetime is in the window are read from its sub-partitions alone; an
    # item with a time range may overlap the window from a datetime outside it, and the
    # parts that find those read only the sub-partitions on their side of the window.
    def tables(*labels: str) -> frozenset[str]:
        return frozenset(f"{table}_{label}" for label in labels)

    parts = await _plan(sessions, collections=["c"],
                        datetime="2020-02-01T00:00:00Z/2020-11-30T00:00:00Z")
    assert parts == {tables("y2020"), tables("y2020", "y2021", "y2022", "default"),
                     tables("y2019", "y2020", "default")}
    parts = await _plan(sessions, collections=["c"],
                        datetime="2021-01-01T00:00:00Z/2021-12-31T23:59:59Z")
    assert tables("y2021") in parts
    assert await _plan(sessions, collections=["c"]) == {
        tables(label) for label in ("y2019", "y2020", "y2021", "y2022", "default")
    }
    with pytest.raises(ValueError, match="split already"):
        await split_collection(engine, "c", "month")


async def test_writes_to_a_split_collection_make_and_move_between_sub_partitions(
    catalog: tuple[AsyncEngine, async_sessionmaker[AsyncSession]],
) -> None:
    engine, sessions = catalog
    table = await _partition(engine, "c")
    await split_collection(engine, "c", "month")
    async with sessions() as session, session.begin():
        summary = await upsert_items(session, normalize_items([
            _item(COUNT, year=2024),  # a new month
            _item(0, year=2023),  # moved, from 2019-01 to 2023-01 (a new month too)
            _item(1, year=2022),  # moved, from 2020-02 to 2022-02
        ] + [_item(n) for n in range(2, 10)]))
    assert (summary.inserted, summary.updated, summary.unchanged) == (1, 2, 8)
    async with engine.connect() as conn:
        def count(sql: str) -> Any:
            return conn.execute(text(sql))
        rows = (await count(
            "SELECT id, tableoid::regclass::text FROM items WHERE collection_id = 'c' "
            "AND id IN ('item-000', 'item-001', 'item-080') ORDER BY id"
        )).all()
        deletions = (await count("SELECT count(*) FROM saved_search_deletions")).scalar()
        default_rows = (await count(f'SELECT count(*) FROM "{table}_default"')).scalar()
    assert [tuple(r) for r in rows] == [
        ("item-000", f"{table}_m202301"), ("item-001", f"{table}_m202202"),
        ("item-080", f"{table}_m202409"),
    ]
    assert (deletions, default_rows) == (0, 0)
    async with sessions() as session:
        moved = await get_item(session, "c", "item-000")
    assert moved["properties"]["datetime"] == "2023-01-01T00:00:00Z"
    assert datetime.fromisoformat(moved["properties"]["datetime"]).tzinfo == UTC
    # Property indexes, catalog-wide and of the split collection, on every sub-partition.
    await create_property_index(engine, "cloud")
    await create_property_index(engine, "n", "c")
    assert all(index.valid for index in await list_property_indexes(engine))
    async with sessions() as session, session.begin():
        await upsert_items(session, normalize_items([_item(COUNT + 1, year=2030)]))
    async with engine.connect() as conn:
        async def indexes(leaf: str) -> list[tuple[str, bool]]:
            """The parent index and validity of each index of ``leaf``."""
            rows = await conn.execute(text(
                "SELECT p.relname, i.indisvalid FROM pg_index i "
                "LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid "
                "LEFT JOIN pg_class p ON p.oid = inh.inhparent "
                "WHERE i.indrelid = to_regclass(quote_ident(:t)) ORDER BY 1"
            ), {"t": leaf})
            return [tuple(r) for r in rows]

        new_leaf = await indexes(f"{table}_m203010")
        old_leaf = await indexes(f"{table}_m202409")
    # The new sub-partition has every index the others have, the property indexes' too.
    assert new_leaf == old_leaf
    assert all(valid for _, valid in new_leaf)
    declared = {index.index_name for index in await list_property_indexes(engine)}
    assert len(declared & {parent for parent, _ in new_leaf}) == 1  # the collection's


async def test_the_command_line_splits_and_lists_sub_partitions(
    catalog: tuple[AsyncEngine, async_sessionmaker[AsyncSession]],
) -> None:
    engine, _ = catalog
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "STACQL_DATABASE_URL": url}
    split = subprocess.run(
        [sys.executable, "-m", "stacql.cli", "db", "partitions", "split", "d",
         "--interval", "year"],
        check=True, capture_output=True, text=True, cwd=REPO, env=env,
    )
    assert "moved 10 items into 5 sub-partitions" in split.stderr + split.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "stacql.cli", "db", "partitions", "list"],
        check=True, capture_output=True, text=True, cwd=REPO, env=env,
    )
    table = await _partition(engine, "d")
    subs = [line.split("\t")[0].strip() for line in listed.stdout.splitlines()
            if line.startswith("  ")]
    assert subs == [f"{table}_default"] + [f"{table}_y{y}" for y in YEARS]
