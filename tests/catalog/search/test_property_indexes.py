"""Declared property indexes serve sortby and numeric range filters on a property, in the
plans PostgreSQL makes for the engine's own statements, with the same results."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog.errors import InvalidInput, UnknownCollection
from catalog.search import build_search, search
from catalog.search.engine import _page_query, page_statement
from catalog.search.fields import items
from catalog.search.property_indexes import (
    create_property_index,
    drop_property_index,
    index_name,
    list_property_indexes,
)
from catalog.search.sort import with_tie_break
from catalog.search.where import where_clauses
from tests.support.reference import Key, Reference

FILTERS: list[dict[str, Any]] = [
    {"op": "<=", "args": [{"property": "gsd"}, 0.6]},
    {"op": ">", "args": [{"property": "gsd"}, 1]},
    {"op": ">=", "args": [2, {"property": "gsd"}]},  # the literal first
    {"op": "between", "args": [{"property": "gsd"}, 0.5, 10]},
    {"op": "not", "args": [{"op": "<", "args": [{"property": "gsd"}, 1]}]},
    {"op": "or", "args": [
        {"op": "<", "args": [{"property": "gsd"}, 0.5]},
        {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 50]},
    ]},
]


def _engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    return sessions.kw["bind"]


@pytest.fixture
async def gsd_indexes(loaded_sessions) -> AsyncIterator[list[str]]:
    """A catalog-wide index of gsd and one of gsd in the naip collection."""
    engine = _engine(loaded_sessions)
    made = [
        await create_property_index(engine, "properties.gsd"),
        await create_property_index(engine, "gsd", "naip"),
    ]
    yield [index.index_name for index in made]
    await drop_property_index(engine, "gsd")
    await drop_property_index(engine, "gsd", "naip")


async def _all_pages(sessions, **params: Any) -> list[Key]:
    keys: list[Key] = []
    token = None
    async with sessions() as session:
        while True:
            page = await search(session, build_search(limit=37, token=token, **params))
            keys += [(doc["collection"], doc["id"]) for doc in page.items]
            token = page.next_token
            if token is None:
                return keys


async def _plan(sessions, parallel: bool = True, **params: Any) -> str:
    query = page_statement(build_search(**params), [items.c.id])
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    async with sessions() as session, session.begin():
        # Few rows: without this the planner rightly prefers reading the whole table.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        if not parallel:
            await session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        return "\n".join(row[0] for row in await session.execute(text(f"EXPLAIN {sql}")))


@pytest.mark.parametrize("sortby", ["-properties.gsd", "gsd,-datetime"])
@pytest.mark.parametrize("collections", [None, ["naip"]])
async def test_sorted_pages_follow_the_reference(
    loaded_sessions, gsd_indexes, reference: Reference, sortby: str, collections
) -> None:
    found = await _all_pages(loaded_sessions, sortby=sortby, collections=collections)
    assert found == reference.search(sortby=sortby, collections=collections)


@pytest.mark.parametrize("filter_json", FILTERS)
async def test_range_filters_follow_the_reference(
    loaded_sessions, gsd_indexes, reference: Reference, filter_json: dict
) -> None:
    found = await _all_pages(loaded_sessions, filter=filter_json, sortby="id")
    assert found == reference.search(filter=filter_json, sortby="id")


async def test_a_sorted_page_is_read_from_the_catalog_wide_index(
    loaded_sessions, gsd_indexes
) -> None:
    plan = await _plan(loaded_sessions, sortby="-properties.gsd", limit=10)
    assert gsd_indexes[0] in plan and "Sort" not in plan.split("->")[0], plan


async def test_a_collection_page_is_read_from_its_own_index(loaded_sessions, gsd_indexes) -> None:
    plan = await _plan(loaded_sessions, sortby="gsd", collections=["naip"], limit=10)
    assert gsd_indexes[1] in plan, plan


@pytest.fixture
async def naip_gsd_index(loaded_sessions) -> AsyncIterator[str]:
    """An index of gsd declared for the naip collection alone."""
    engine = _engine(loaded_sessions)
    made = await create_property_index(engine, "gsd", "naip")
    yield made.index_name
    await drop_property_index(engine, "gsd", "naip")


async def test_a_sort_across_collections_reads_a_collection_index(
    loaded_sessions, naip_gsd_index, reference: Reference
) -> None:
    """The collection's index is one ordered input of the sort over all collections:
    its rows are not all read and sorted (only the other collections' are)."""
    plan = await _plan(loaded_sessions, sortby="-gsd", limit=10, parallel=False)
    assert "Merge Append" in plan and naip_gsd_index in plan, plan
    found = await _all_pages(loaded_sessions, sortby="-gsd")
    assert found == reference.search(sortby="-gsd")


async def test_an_index_of_the_older_shape_is_rebuilt(loaded_sessions) -> None:
    """Declared again, a collection index made as (property, id), partial on the
    collection, is rebuilt whole with the full key, under its name."""
    engine = _engine(loaded_sessions)
    name = index_name("gsd", "naip")
    async with engine.connect() as conn:
        partition = (await conn.execute(
            text("SELECT stacql_item_partition_of('naip')"))).scalar_one()
        await conn.execute(text(
            "INSERT INTO property_indexes (index_name, property, collection_id) "
            "VALUES (:n, 'gsd', 'naip')"), {"n": name})
        await conn.exec_driver_sql(
            f'CREATE INDEX "{name}" ON "{partition}" '
            "((coalesce(properties['gsd'], 'null'::jsonb)), id) WHERE collection_id = 'naip'"
        )
        await conn.commit()
    try:
        listed = {i.index_name: i for i in await list_property_indexes(engine)}
        assert listed[name].valid and not listed[name].current
        await create_property_index(engine, "gsd", "naip")
        listed = {i.index_name: i for i in await list_property_indexes(engine)}
        assert listed[name].valid and listed[name].current
        async with engine.connect() as conn:
            shape = await conn.execute(text(
                "SELECT indrelid::regclass::text, indpred IS NULL, indnkeyatts, indisvalid "
                "FROM pg_index WHERE indexrelid = to_regclass(:n)"), {"n": name})
            assert tuple(shape.one()) == (partition, True, 3, True)
            left = await conn.execute(text(
                "SELECT count(*) FROM pg_class WHERE relname LIKE :n || '%'"), {"n": name})
            assert left.scalar_one() == 1  # the index alone: the one built beside it renamed
        plan = await _plan(loaded_sessions, sortby="-gsd", limit=10)
        assert name in plan, plan
    finally:
        await drop_property_index(engine, "gsd", "naip")


async def test_a_range_filter_is_an_index_range(loaded_sessions, gsd_indexes) -> None:
    async with loaded_sessions() as session, session.begin():
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        request = build_search(filter={"op": ">", "args": [{"property": "gsd"}, 20]})
        query = _page_query(
            [items.c.id], with_tie_break(()), True, where_clauses(request), 11, []
        ).order_by(None)
        sql = str(query.compile(dialect=postgresql.dialect(),
                                compile_kwargs={"literal_binds": True}))
        plan = "\n".join(row[0] for row in await session.execute(text(f"EXPLAIN {sql}")))
    assert gsd_indexes[0] in plan and "Index Cond" in plan, plan


async def test_the_engine_statements_use_the_index(loaded_sessions, gsd_indexes) -> None:
    """Through the driver, bound parameters and prepared statements: past the first
    custom plans, PostgreSQL must still choose one that reads the index."""
    scans = text(
        # The scans of the index's parts on the partitions (named <index>__<partition>).
        "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes "
        "WHERE indexrelname = :n OR starts_with(indexrelname, :n || '__')"
    )
    async with loaded_sessions() as session:
        before = (await session.execute(scans, {"n": gsd_indexes[0]})).scalar_one()
        for _ in range(8):
            await search(session, build_search(sortby="-gsd", limit=5))
        await session.commit()
        await session.execute(text("SELECT pg_stat_force_next_flush()"))
        await session.commit()
    for _ in range(50):
        async with loaded_sessions() as session:
            after = (await session.execute(scans, {"n": gsd_indexes[0]})).scalar_one()
        if after - before >= 8:
            break
        await asyncio.sleep(0.1)
    assert after - before >= 8


async def test_declarations_are_listed_and_idempotent(loaded_sessions, gsd_indexes) -> None:
    engine = _engine(loaded_sessions)
    again = await create_property_index(engine, "gsd")
    assert again.index_name == gsd_indexes[0] == index_name("gsd")
    listed = {(i.property, i.collection_id, i.valid) for i in await list_property_indexes(engine)}
    assert {("gsd", None, True), ("gsd", "naip", True)} <= listed


@pytest.mark.parametrize("name", ["datetime", "properties.id", "", "properties."])
async def test_core_fields_and_empty_names_are_refused(loaded_sessions, name: str) -> None:
    with pytest.raises(InvalidInput):
        await create_property_index(_engine(loaded_sessions), name)


async def test_an_unknown_collection_is_refused(loaded_sessions) -> None:
    with pytest.raises(UnknownCollection):
        await create_property_index(_engine(loaded_sessions), "gsd", "no-such-collection")
    assert not await drop_property_index(_engine(loaded_sessions), "gsd", "no-such-collection")
