"""Comparing exported files with the search they came from, read by independent readers."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import shapely
import shapely.geometry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stac_geoparquet.arrow import stac_table_to_items

from catalog.access import create_key
from catalog.search import build_search, search
from catalog.stac.links import STRUCTURAL_RELS
from catalog.temporal import parse_rfc3339
from stacql.settings import (
    DatabaseSettings,
    ExportSettings,
    RedisSettings,
    Settings,
    StorageSettings,
    WorkerSettings,
)
from tests.support.paths import REPO

DATETIME_FIELDS = frozenset({"datetime", "start_datetime", "end_datetime", "created", "updated"})


def _plain(value: Any, key: str = "") -> Any:
    """``value`` without nulls, with datetimes as instants and tuples as lists (what the
    readers add or reformat; every other byte must be the same)."""
    if isinstance(value, dict):
        return {k: _plain(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if key in DATETIME_FIELDS and isinstance(value, str):
        return parse_rfc3339(value)
    return value


def comparable(item: dict[str, Any]) -> dict[str, Any]:
    """An item in a form two readers of the same data agree on; its geometry as a
    shapely geometry, compared exactly."""
    plain = _plain({k: v for k, v in item.items() if k not in ("geometry", "links")})
    plain["links"] = [
        _plain(link) for link in item.get("links") or [] if link.get("rel") not in STRUCTURAL_RELS
    ]
    plain["geometry"] = shapely.geometry.shape(item["geometry"]).wkb_hex
    return plain


async def searched(
    sessions: async_sessionmaker[AsyncSession], readable: frozenset[str] | None = None,
    **search_args: Any,
) -> list[dict[str, Any]]:
    """Every item a search finds, in its order (pages of 10,000)."""
    found: list[dict[str, Any]] = []
    token = None
    while True:
        request = build_search(**search_args, limit=10_000, token=token,
                               readable_private=readable)
        async with sessions() as session:
            page = await search(session, request)
        found += page.items
        token = page.next_token
        if token is None:
            return found


def geoparquet_items(path: Path) -> list[dict[str, Any]]:
    """The items of a file as the ``stac-geoparquet`` library reads them."""
    return list(stac_table_to_items(pq.read_table(path)))


def duckdb_rows(path: Path) -> list[tuple[str, str, Any, str]]:
    """(id, collection, datetime, geometry WKB hex) of each row, as DuckDB reads them."""
    rows = duckdb.sql(
        f"SELECT id, collection, datetime, geometry::BLOB FROM read_parquet('{path}')"
    ).fetchall()
    return [(i, c, d, shapely.from_wkb(bytes(g)).wkb_hex) for i, c, d, g in rows]


TEST_REDIS_URL = os.environ.get("STACQL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def export_settings(
    database_url: str, storage: Path, retention_seconds: int | None = None,
    sweep_seconds: int | None = None,
) -> Settings:
    """Settings of an app whose jobs go to a queue of their own on the test Redis (and
    whose workers keep export files ``retention_seconds``, when given)."""
    retention: dict[str, int] = {} if retention_seconds is None else {
        "retention_seconds": retention_seconds
    }
    if sweep_seconds is not None:
        retention["sweep_seconds"] = sweep_seconds
    return Settings(
        database=DatabaseSettings(url=database_url),
        storage=StorageSettings(url=str(storage)),
        redis=RedisSettings(url=TEST_REDIS_URL),
        workers=WorkerSettings(queues=[f"test-exports-{uuid.uuid4().hex[:8]}"]),
        exports=ExportSettings(**retention),
    )


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a ``stacql worker`` for the app of ``settings``."""
    return {
        "STACQL_DATABASE_URL": settings.database.url,
        "STACQL_REDIS_URL": settings.redis.url, "STACQL_STORAGE_URL": settings.storage.url,
        "STACQL_EXPORTS_RETENTION_SECONDS": str(settings.exports.retention_seconds),
        "STACQL_EXPORTS_SWEEP_SECONDS": str(settings.exports.sweep_seconds),
    }


async def run_worker_burst(settings: Settings) -> None:
    """``stacql worker --burst`` for the app of ``settings``: it works until its queue
    is empty."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stacql.cli", "worker", "--burst",
        "--queue", settings.workers.queues[0], cwd=REPO,
        env={**os.environ, **worker_env(settings)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 0, output.decode(errors="replace")


async def key_of(
    sessions: async_sessionmaker[AsyncSession], name: str, scope: str,
    collection_id: str | None = None,
) -> str:
    """The token of a new API key."""
    async with sessions() as session, session.begin():
        _, token = await create_key(session, name, scope, collection_id)
    return token
