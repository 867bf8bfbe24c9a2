"""Checksums computed by extraction jobs (a real RQ worker), kept in Redis for the same
file ingested again unchanged."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import blake3
import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import Engine

from catalog.search.lookup import get_item
from tests.support.paths import RASTERS
from tests.workers.conftest import run_with_sessions
from tests.workers.test_jobs import WHEN, enqueue, job_row, upload, work
from workers import ExtractRequest
from workers.checksum_cache import KEY_PREFIX, ChecksumCache, FileState
from workers.extract import SAFE_DRIVERS, ExtractOptions


def stored_checksum(url: str, item_id: str) -> str:
    async def read(sessions: Any) -> dict[str, Any]:
        async with sessions() as session:
            return await get_item(session, "rasters", item_id)

    return run_with_sessions(url, read)["assets"]["data"]["file:checksum"]


def extract_once(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, key: str, **config: Any
) -> dict[str, Any]:
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key, datetime=WHEN))
    work(redis_conn, catalog_db, store_root, queue, **config)
    row = job_row(catalog_db, job)
    assert (row.status, row.error) == ("finished", None)
    return row.result


@pytest.fixture
def extracted(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path
) -> tuple[str, Path]:
    """A COG of the store extracted once: its key and its path."""
    key = upload(store_root, RASTERS / "rio-tiler/cog.tif", "in/cog.tif")
    extract_once(catalog_db, redis_conn, queue, store_root, key)
    return key, store_root / key


def test_a_job_keeps_the_checksum_it_computed_for_the_file_as_it_was(
    catalog_db: str, redis_conn: Redis, extracted: tuple[str, Path]
) -> None:
    _, path = extracted
    expected = "1220" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert stored_checksum(catalog_db, "cog") == expected
    entry = json.loads(redis_conn.get(ChecksumCache.key(path, "sha2-256")))
    assert entry == {"state": FileState.of(path).__dict__, "checksum": expected}
    assert 0 < redis_conn.ttl(ChecksumCache.key(path, "sha2-256")) <= 30 * 24 * 3600


def test_the_same_file_ingested_again_is_not_hashed_again(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path,
    extracted: tuple[str, Path],
) -> None:
    key, path = extracted
    # The stored entry is what the next job uses: one that names other bytes for this
    # very state of the file shows up in the item, so the file was not read for it.
    other = "1220" + hashlib.sha256(b"other bytes").hexdigest()
    cache = ChecksumCache(redis_conn, 60)
    cache.put(path, "sha2-256", FileState.of(path), other)
    result = extract_once(catalog_db, redis_conn, queue, store_root, key)
    assert (result["updated"], stored_checksum(catalog_db, "cog")) == (1, other)


def test_a_file_written_again_is_hashed_again_even_with_its_size_and_mtime(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path,
    extracted: tuple[str, Path],
) -> None:
    key, path = extracted
    # An entry naming other bytes for the file as it is now...
    other = "1220" + hashlib.sha256(b"other bytes").hexdigest()
    ChecksumCache(redis_conn, 60).put(path, "sha2-256", FileState.of(path), other)
    # ...is not used once the file is written again, even with the same bytes, size and
    # modification time: its change time moved on.
    before = os.stat(path)
    path.write_bytes(path.read_bytes())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (
        before.st_size, before.st_mtime_ns
    )
    extract_once(catalog_db, redis_conn, queue, store_root, key)
    assert stored_checksum(catalog_db, "cog") == (
        "1220" + hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_the_cache_follows_the_configured_hash_and_can_be_turned_off(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, RASTERS / "rio-tiler/cog.tif", "in/cog.tif")
    path = store_root / key
    options = ExtractOptions(allowed_drivers=SAFE_DRIVERS, checksum="blake3")
    extract_once(catalog_db, redis_conn, queue, store_root, key, extract=options)
    expected = "1e20" + blake3.blake3(path.read_bytes()).hexdigest()
    assert stored_checksum(catalog_db, "cog") == expected
    assert json.loads(redis_conn.get(ChecksumCache.key(path, "blake3")))["checksum"] == expected
    assert redis_conn.get(ChecksumCache.key(path, "sha2-256")) is None
    redis_conn.flushdb()
    extract_once(catalog_db, redis_conn, queue, store_root, key, checksum_cache_ttl=0)
    assert not redis_conn.keys(KEY_PREFIX + "*")
