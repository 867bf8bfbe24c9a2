"""Kept statements sent by the driver (``catalog.db.driver``) read what SQLAlchemy reads
from them, and fail as statements sent through SQLAlchemy do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from geoalchemy2.elements import WKBElement
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from catalog.db.driver import driver_statement, fetch_mappings, read_connection
from catalog.db.engine import create_engine, create_read_sessionmaker
from catalog.errors import DatabaseUnavailable, InvalidInput
from catalog.search import build_search, search_rows
from catalog.search.engine import sent_page_query
from catalog.search.render import item_json, item_text_parts, items

SEARCHES: list[dict[str, Any]] = [
    {},
    {"bbox": [-180, -90, 180, 90]},
    {"datetime": "2000-01-01T00:00:00Z/.."},
    {"datetime": "2000-01-01T00:00:00Z/2030-01-01T00:00:00Z", "collections": ["naip"]},
    # A property's key is a JSON index parameter SQLAlchemy converts: once, for the driver.
    {"filter": {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 50]},
     "filter_lang": "cql2-json"},
    {"filter": {"op": ">=", "args": [{"property": "datetime"},
                                     {"timestamp": "2010-01-01T00:00:00Z"}]},
     "filter_lang": "cql2-json"},
    {"sortby": "-datetime"},
    {"sortby": "id"},
    {"ids": ["no-such-item"]},
]


@pytest.fixture
async def reads(catalog_url: str, loaded_sessions: Any) -> AsyncIterator[async_sessionmaker]:
    """Read sessions on the loaded catalog, over a pool of one connection (so a
    connection the pool kept would be handed out again)."""
    engine = create_engine(catalog_url, pool_size=1, pre_ping=False)
    yield create_read_sessionmaker(engine)
    await engine.dispose()


def _connection(reads: async_sessionmaker) -> AsyncConnection:
    connection = read_connection(reads)
    assert connection is not None  # read sessions bound to an engine
    return connection


async def test_pages_read_by_the_driver_are_those_sqlalchemy_reads(reads) -> None:
    compared = 0
    for terms in SEARCHES:
        request = build_search(limit=4, **terms)
        async with _connection(reads) as connection:
            query = await sent_page_query(connection, request, item_text_parts())
            assert query.kept
            assert driver_statement(query.statement, connection.dialect) is not None
            by_driver = await fetch_mappings(connection, query.statement, query.values)
            result = await connection.execute(query.statement, query.values)
            by_sqlalchemy = result.mappings().all()
        assert [dict(row) for row in by_driver] == [dict(row) for row in by_sqlalchemy], terms
        compared += len(by_driver)
    assert compared >= 20


async def test_statements_sqlalchemy_converts_go_through_it(reads) -> None:
    """A geometry column is converted by SQLAlchemy (GeoAlchemy2's WKB elements): such
    a statement is not handed to the driver, and still reads what SQLAlchemy reads."""
    request = build_search(limit=3)
    async with _connection(reads) as connection:
        query = await sent_page_query(connection, request, [items.c.geometry.label("shape")])
        assert driver_statement(query.statement, connection.dialect) is None
        rows = await fetch_mappings(connection, query.statement, query.values)
        result = await connection.execute(query.statement, query.values)
        expected = result.mappings().all()
    assert len(rows) == 4 and all(isinstance(row["shape"], WKBElement) for row in rows)
    assert [row["shape"].data for row in rows] == [row["shape"].data for row in expected]


async def test_documents_decoded_by_the_driver_are_those_sqlalchemy_reads(reads) -> None:
    """JSONB is decoded by the codec SQLAlchemy sets on each connection, not after."""
    request = build_search(limit=5)
    async with _connection(reads) as connection:
        query = await sent_page_query(connection, request, [item_json().label("item")])
        assert driver_statement(query.statement, connection.dialect) is not None
        rows = await fetch_mappings(connection, query.statement, query.values)
        result = await connection.execute(query.statement, query.values)
        expected = result.mappings().all()
    assert [row["item"] for row in rows] == [row["item"] for row in expected]
    assert all(isinstance(row["item"], dict) for row in rows)


async def test_listeners_hear_of_statements_the_driver_sends(reads) -> None:
    heard: list[str] = []

    def hear(*args: Any) -> None:
        heard.append(args[2])

    engine = reads.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", hear)
    try:
        async with _connection(reads) as connection:
            page = await search_rows(connection, build_search(limit=2), item_text_parts())
    finally:
        event.remove(engine, "before_cursor_execute", hear)
    assert page.rows and len(heard) == 1 and "FROM items" in heard[0]


async def test_a_dropped_connection_is_unavailable_then_replaced(
    reads, loaded_sessions: async_sessionmaker[AsyncSession]
) -> None:
    request = build_search(limit=2)
    async with _connection(reads) as connection:
        pid = (await connection.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
        async with loaded_sessions() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DatabaseUnavailable):
            await search_rows(connection, request, item_text_parts())
    # The dead connection left the pool: the one connection handed out next works.
    async with _connection(reads) as again:
        assert (await search_rows(again, request, item_text_parts())).rows
        assert (await again.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one() != pid


async def test_a_cancelled_statement_is_refused_and_its_connection_kept(
    reads, loaded_sessions: async_sessionmaker[AsyncSession]
) -> None:
    request = build_search(limit=2)
    async with _connection(reads) as connection, loaded_sessions() as locker:
        await connection.exec_driver_sql("SET statement_timeout = 200")
        await locker.execute(text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
        try:
            with pytest.raises(InvalidInput, match="took too long"):
                await search_rows(connection, request, item_text_parts())
        finally:
            await locker.rollback()
        assert (await search_rows(connection, request, item_text_parts())).rows
        await connection.exec_driver_sql("RESET statement_timeout")
