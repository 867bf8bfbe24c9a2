"""Async engine and session factory for the catalog database."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    statement_timeout_ms: int | None = None,
    parallel_workers_per_gather: int | None = None,
    pre_ping: bool = True,
    echo: bool = False,
) -> AsyncEngine:
    """An asyncpg engine; ``statement_timeout_ms`` bounds every statement it runs and
    ``parallel_workers_per_gather``, when given, caps PostgreSQL's parallel workers per
    query (0: none) on its connections. ``pre_ping`` tests each connection as it leaves
    the pool (one round trip more per checkout, against a dropped connection)."""
    server_settings = {"application_name": "stacql"}
    if statement_timeout_ms:
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    if parallel_workers_per_gather is not None:
        server_settings["max_parallel_workers_per_gather"] = str(parallel_workers_per_gather)
    return _create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        echo=echo,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        connect_args={"server_settings": server_settings},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (no implicit I/O under asyncio)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads only: their statements run in autocommit, so a search costs one
    round trip instead of BEGIN, query and ROLLBACK (each statement sees its own snapshot)."""
    return create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
