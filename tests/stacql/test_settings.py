"""Service settings that shape how the API runs: worker processes, database connections."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from stacql.app import create_app
from stacql.settings import DatabaseSettings, Settings


def test_serve_workers_default_to_one_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACQL_API_WORKERS", raising=False)
    assert Settings().api.workers == os.cpu_count()


def test_serve_workers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACQL_API_WORKERS", "3")
    assert Settings().api.workers == 3


def test_extraction_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACQL_WORKERS_FULL_SCAN", "true")
    monkeypatch.setenv("STACQL_WORKERS_CHECKSUM", "blake3")
    monkeypatch.setenv("STACQL_WORKERS_SAMPLE_SIZE", "2048")
    workers = Settings().workers
    assert (workers.full_scan, workers.checksum, workers.sample_size) == (True, "blake3", 2048)
    monkeypatch.setenv("STACQL_WORKERS_CHECKSUM", "md5")
    with pytest.raises(ValueError, match="checksum"):
        Settings()


async def test_api_connections_run_without_parallel_workers(scratch_url: str) -> None:
    engine = create_app(Settings(database=DatabaseSettings(url=scratch_url))).state.engine
    try:
        async with engine.connect() as connection:
            setting = await connection.scalar(text("SHOW max_parallel_workers_per_gather"))
    finally:
        await engine.dispose()
    assert setting == "0"


async def test_unset_parallel_workers_keep_the_server_setting(scratch_url: str) -> None:
    database = DatabaseSettings(url=scratch_url, parallel_workers_per_gather=None)
    engine = create_app(Settings(database=database)).state.engine
    try:
        async with engine.connect() as connection:
            setting = await connection.scalar(text("SHOW max_parallel_workers_per_gather"))
            default = await connection.scalar(text(
                "SELECT reset_val FROM pg_settings WHERE name = 'max_parallel_workers_per_gather'"
            ))
    finally:
        await engine.dispose()
    assert setting == default


@pytest.mark.parametrize(
    "value",
    [
        "postgresql+asyncpg://root@10.0.0.2:5432/stacql,postgresql+asyncpg://root@10.0.0.3/stacql",
        '["postgresql+asyncpg://root@10.0.0.2:5432/stacql",'
        ' "postgresql+asyncpg://root@10.0.0.3/stacql"]',
    ],
)
def test_replica_urls_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("STACQL_DATABASE_REPLICA_URLS", value)
    monkeypatch.setenv("STACQL_DATABASE_REPLICA_MAX_LAG_SECONDS", "5")
    database = Settings().database
    assert database.replica_urls == [
        "postgresql+asyncpg://root@10.0.0.2:5432/stacql",
        "postgresql+asyncpg://root@10.0.0.3/stacql",
    ]
    assert database.replica_max_lag_seconds == 5


def test_no_replica_urls_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACQL_DATABASE_REPLICA_URLS", raising=False)
    assert Settings().database.replica_urls == []
