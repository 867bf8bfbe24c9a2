"""Fixtures of the worker tests: a Redis db of their own, a local asset store, and sync
access to the scratch catalog.

RQ's ``SimpleWorker`` runs jobs in the test's own thread and each job runs its own
event loop, so the job tests are plain (sync) functions: nothing else may hold a
running loop in that thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine as create_async_engine
from catalog.db import create_sessionmaker
from catalog.ingest import upsert_collection
from tests.support.paths import STAC_DATA
from workers import create_queue

TEST_REDIS_URL = os.environ.get("STACQL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
NAIP_COLLECTION = STAC_DATA / "pgstac/planetary-computer/data/naip/collection.json"

T = TypeVar("T")


def rasters_collection(collection_id: str = "rasters") -> dict[str, Any]:
    """A minimal collection for rasters of any kind."""
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": collection_id,
        "description": "Rasters uploaded by the worker tests",
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [],
    }


Sessions = async_sessionmaker[AsyncSession]


def run_with_sessions(url: str, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run ``work(sessions)`` on a fresh engine in a fresh event loop."""

    async def main() -> T:
        engine = create_async_engine(url, pool_size=1)
        try:
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.fixture
def redis_conn() -> Iterator[Redis]:
    """Redis on the test db index, emptied before and after the test."""
    connection = Redis.from_url(TEST_REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture(scope="session")
def sync_engine(scratch_url: str) -> Iterator[Engine]:
    engine = create_engine(make_url(scratch_url).set(drivername="postgresql+psycopg"))
    yield engine
    engine.dispose()


@pytest.fixture
def catalog_db(scratch_url: str, sync_engine: Engine) -> str:
    """The scratch catalog, emptied, with the collections ``rasters`` and ``naip``."""
    with sync_engine.begin() as conn:
        conn.execute(text("TRUNCATE collections, items, jobs CASCADE"))

    async def create(sessions: Sessions) -> None:
        async with sessions() as session, session.begin():
            await upsert_collection(session, rasters_collection())
            await upsert_collection(session, orjson.loads(NAIP_COLLECTION.read_bytes()))

    run_with_sessions(scratch_url, create)
    return scratch_url


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    root = tmp_path / "assets"
    root.mkdir()
    return root


@pytest.fixture
def queue(redis_conn: Redis) -> Queue:
    """The test queue on the test Redis."""
    return create_queue(redis_conn, "stacql-test")
