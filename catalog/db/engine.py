"""Async engine and session factory for the catalog database."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

log = logging.getLogger(__name__)

WARM_UP = (
    "SET LOCAL lock_timeout = 200; SET LOCAL statement_timeout = 5000; "
    "EXPLAIN SELECT 1 FROM items WHERE geometry && ST_MakeEnvelope(0, 0, 1, 1, 4326)"
)
"""Planned once by each new connection of a warmed engine: planning over every items
partition loads their catalog entries and indexes, and PostGIS's library, into the new
backend. A first search on a cold backend spends tens of milliseconds there, which a
bounded count (``catalog.search.count``, 25 ms) cannot afford. One simple query (its
own implicit transaction, so the SET LOCALs end with it): a table locked by a migration
costs a new connection 200 ms, not a wait."""


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _warm_up(dbapi_connection: Any, _record: Any) -> None:
    try:
        dbapi_connection.run_async(lambda conn: conn.execute(WARM_UP))
    except Exception as exc:  # a database not migrated yet: nothing to warm
        log.debug("connection not warmed up: %s", exc)


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    statement_timeout_ms: int | None = None,
    parallel_workers_per_gather: int | None = None,
    pre_ping: bool = True,
    echo: bool = False,
    warm_up: bool = False,
) -> AsyncEngine:
    """An asyncpg engine; ``statement_timeout_ms`` bounds every statement it runs and
    ``parallel_workers_per_gather``, when given, caps PostgreSQL's parallel workers per
    query (0: none) on its connections. ``pre_ping`` tests each connection as it leaves
    the pool (one round trip more per checkout, against a dropped connection).
    ``warm_up`` has each new connection plan a search once (:data:`WARM_UP`)."""
    server_settings = {"application_name": "stacql"}
    if statement_timeout_ms:
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    if parallel_workers_per_gather is not None:
        server_settings["max_parallel_workers_per_gather"] = str(parallel_workers_per_gather)
    engine = _create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        echo=echo,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        connect_args={"server_settings": server_settings},
    )
    if warm_up:
        event.listen(engine.sync_engine, "connect", _warm_up)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (no implicit I/O under asyncio)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads only: their statements run in autocommit, so a search costs one
    round trip instead of BEGIN, query and ROLLBACK (each statement sees its own snapshot)."""
    return create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
