"""A bulk load cut by a database outage midway: it waits and goes on when the database
comes back, or stops with ``DatabaseUnavailable``, and a second load completes it.

The outage is made on this test's own database, after the second batch is written (from
the load's progress callback), as in ``test_database_outage``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.errors import DatabaseUnavailable
from catalog.ingest import load_path
from tests.faults.test_database_outage import set_outage
from tests.graphql_api.test_mutations import a_collection, an_item
from tests.support.databases import create_migrated_database, drop_database

ITEMS, BATCH = 60, 10


@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    url = create_migrated_database("load_outage")
    yield url
    drop_database(url)


@pytest.fixture
async def sessions(own_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(own_database, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE items, collections CASCADE"))
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A folder with a collection and an ndjson file of ``ITEMS`` items."""
    (tmp_path / "collection.json").write_bytes(orjson.dumps(a_collection("scenes")))
    lines = [orjson.dumps(an_item(f"s{i:03}", i % 170, "2021-01-01T00:00:00Z", 1.0))
             for i in range(ITEMS)]
    (tmp_path / "items.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    return tmp_path


def outage_after(database_url: str, documents: int, back_after: float | None):
    """A progress callback that takes the database down once ``documents`` are written,
    and brings it back ``back_after`` seconds later (never, if None)."""
    written = [0]

    def progress(_source: str, count: int) -> None:
        before, written[0] = written[0], written[0] + count
        if before < documents <= written[0]:
            set_outage(database_url, down=True)
            if back_after is not None:
                threading.Timer(back_after, set_outage, (database_url, False)).start()

    return progress


async def stored(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()


async def test_a_load_waits_for_the_database_and_completes(
    sessions, own_database: str, source: Path, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        report = await load_path(
            sessions, source, batch_size=BATCH, processes=0, writers=1,
            progress=outage_after(own_database, 1 + 2 * BATCH, back_after=1.0),
            retry_delays=[0.25] * 20,
        )
    finally:
        set_outage(own_database, down=False)
    assert report.errors == []
    assert report.items.inserted == ITEMS
    assert await stored(sessions) == ITEMS
    assert any("trying again" in r.getMessage() for r in caplog.records)  # it did wait


async def test_a_load_stops_when_the_database_stays_away_and_resumes(
    sessions, own_database: str, source: Path
) -> None:
    try:
        with pytest.raises(DatabaseUnavailable):
            await load_path(
                sessions, source, batch_size=BATCH, processes=0, writers=1,
                progress=outage_after(own_database, 1 + 2 * BATCH, back_after=None),
                retry_delays=[0.1, 0.1],
            )
    finally:
        set_outage(own_database, down=False)
    written = await stored(sessions)
    assert written == 2 * BATCH  # whole batches only
    again = await load_path(sessions, source, batch_size=BATCH, processes=0)
    assert (again.items.inserted, again.items.unchanged) == (ITEMS - written, written)
    assert again.errors == []
