"""Counts bounded by time and rows (``count_within``): exact when cheap, else None."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_read_sessionmaker
from catalog.search import build_search, count_matches
from catalog.search.count import CountBudget, _bounded, count_within

REQUESTS = {
    "everything": {},
    "one-collection": {"collections": ["naip"]},
    "filtered": {"filter": "gsd < 1 AND \"naip:state\" = 'al'"},
    "bbox-and-time": {
        "bbox": [-88.0, 30.4, -85.2, 31.1],
        "datetime": "2011-01-01T00:00:00Z/2015-12-31T23:59:59Z",
    },
    "nothing": {"ids": ["no-such-item"]},
}


@pytest.fixture(scope="module")
def read_sessions(loaded_sessions: async_sessionmaker[AsyncSession]):
    """Autocommit sessions, as the STAC API reads with."""
    return create_read_sessionmaker(loaded_sessions.kw["bind"])


@pytest.mark.parametrize("params", REQUESTS.values(), ids=REQUESTS.keys())
async def test_count_within_a_budget_is_exact(read_sessions, params) -> None:
    request = build_search(**params)
    async with read_sessions() as session:
        expected = await count_matches(session, request)
    async with read_sessions() as session:
        assert await count_within(session, request, CountBudget(budget_ms=5_000)) == expected


async def test_count_past_the_row_cap_is_omitted(read_sessions) -> None:
    request = build_search(collections=["joplin"])
    async with read_sessions() as session:
        matched = await count_matches(session, request)
    async with read_sessions() as session:
        at_cap = await count_within(session, request, CountBudget(max_rows=matched))
    async with read_sessions() as session:
        past_cap = await count_within(session, request, CountBudget(max_rows=matched - 1))
    assert (at_cap, past_cap) == (matched, None)


async def test_count_off_when_the_budget_is_zero(read_sessions) -> None:
    async with read_sessions() as session:
        assert await count_within(session, build_search(), CountBudget(budget_ms=0)) is None


async def test_count_past_the_time_budget_is_omitted_without_waiting(scratch_sessions) -> None:
    """A count held up (here by a lock on the items) stops at the budget, and the
    connection goes back to the pool without the budget's timeout."""
    reads = create_read_sessionmaker(scratch_sessions.kw["bind"])
    async with scratch_sessions() as locker, locker.begin():
        await locker.execute(text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        async with reads() as session:
            counted = await asyncio.wait_for(
                count_within(session, build_search(), CountBudget(budget_ms=200)), 10
            )
            elapsed = time.monotonic() - started
            timeout = (await session.execute(text("SHOW statement_timeout"))).scalar_one()
    assert counted is None
    assert 0.2 <= elapsed < 5
    assert timeout != "200ms"


@pytest.mark.parametrize(
    "params",
    [{}, {"filter": "id LIKE '%no-such-item%'"}],
    ids=["many-matches", "few-matches-by-a-full-scan"],
)
async def test_what_the_plan_finds_costly_is_not_counted(read_sessions, params) -> None:
    """More than ``max_rows`` matches by PostgreSQL's estimate, or a sequential scan of
    more than ``max_rows`` items: one EXPLAIN, no count, so a large table is never
    scanned for numberMatched."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    engine = read_sessions.kw["bind"].sync_engine
    request = build_search(**params)
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with read_sessions() as session:
            counted = await count_within(session, request, CountBudget(max_rows=100))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    async with read_sessions() as session:
        exact = await count_within(session, request, CountBudget(max_rows=5_000))
    assert counted is None and exact is not None
    assert any(s.startswith("EXPLAIN") for s in statements)
    assert not any("count(" in s for s in statements), statements


async def test_a_cancelled_count_never_pools_its_transaction(scratch_url, scratch_sessions) -> None:
    """The count begins and ends its transaction on the driver's connection, which
    SQLAlchemy does not know of: a count cancelled at any point (here at each of its
    first event-loop turns, then while its plan waits on a lock) must not hand its
    connection back to the pool inside that transaction with the count's timeout."""
    # One connection, not pinged (as the API runs): the count's connection comes back.
    engine = create_engine(scratch_url, pool_size=1, pre_ping=False)
    reads = create_read_sessionmaker(engine)
    seen = []
    try:
        async with reads() as session:  # connected: the turns below reach the count
            await session.execute(text("SELECT 1"))
        async with scratch_sessions() as locker, locker.begin():
            await locker.execute(text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
            for turns in range(12):
                async def count() -> int | None:
                    async with reads() as session:
                        return await count_within(session, build_search(), CountBudget(5_000))

                task = asyncio.create_task(count())
                for _ in range(turns):
                    await asyncio.sleep(0)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                async with reads() as session:
                    conn = await session.connection()
                    driver = (await conn.get_raw_connection()).driver_connection
                    seen.append((turns, driver.is_in_transaction()))
        async with reads() as session:
            timeout = (await session.execute(text("SHOW statement_timeout"))).scalar_one()
    finally:
        await engine.dispose()
    assert seen == [(turns, False) for turns in range(12)]
    assert timeout != "5s"


async def test_a_failed_rollback_costs_the_connection_not_the_count(read_sessions) -> None:
    """The count's ROLLBACK can fail (its own statement timeout still holds, and can
    cancel it on a loaded machine; here its backend is gone): the connection is dropped
    and the count's answer stands, instead of the request failing."""
    async with read_sessions() as session:
        conn = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with _bounded(conn, 5_000), read_sessions() as other:
            await other.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
        assert conn.invalidated
