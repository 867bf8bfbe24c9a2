"""Equality on a property is answered from the GIN index of properties, whose
expression the compiled filter must repeat exactly for the planner to use it."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db.models import UNINDEXED_PROPERTIES
from catalog.search.cql2 import compile_filter
from catalog.search.fields import items


async def _plan(sessions: async_sessionmaker[AsyncSession], filter_json: dict) -> str:
    query = select(items.c.id).where(compile_filter(filter_json))
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    async with sessions() as session, session.begin():
        # Few rows: without this the planner rightly prefers reading the whole table.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        rows = await session.execute(text(f"EXPLAIN {sql}"))
        return "\n".join(row[0] for row in rows)


async def test_property_equality_uses_the_gin_index(loaded_sessions) -> None:
    plan = await _plan(loaded_sessions, {"op": "=", "args": [{"property": "platform"}, "SS02"]})
    assert "items_properties_gin" in plan, plan


async def test_the_index_leaves_out_the_timestamps_the_compiler_compares_as_times(
    loaded_sessions,
) -> None:
    async with loaded_sessions() as session:
        definition = (await session.execute(
            text("SELECT pg_get_indexdef('items_properties_gin'::regclass)")
        )).scalar_one()
    assert all(name in definition for name in UNINDEXED_PROPERTIES), definition
    plan = await _plan(
        loaded_sessions, {"op": "=", "args": [{"property": "created"}, "2017-09-01T19:31:37Z"]}
    )
    assert "items_properties_gin" not in plan, plan
