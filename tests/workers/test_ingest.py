"""Bulk work through the queue: ``stacql ingest --rasters`` queues one extraction job per
raster, and the bulk ingest job loads a static catalog or ndjson file in a worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import Engine, text

from catalog.errors import InvalidInput
from catalog.jobs import JobRecord, get_job, mark_started
from tests.support.paths import RASTERS, REPO, STAC_DATA
from tests.workers.conftest import TEST_REDIS_URL, run_with_sessions
from tests.workers.test_jobs import NAIP_FGDC, NAIP_TIF, WHEN, items, job_row, work
from workers import enqueue_ingest_catalog
from workers import jobs as jobs_module
from workers.jobs import record_step

PLANET = STAC_DATA / "stactools/planet-disaster/collection.json"
NAIP_ITEMS = STAC_DATA / "pgstac/planetary-computer/data/naip/items.ndjson"


def stacql(database_url: str, store_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ, "STACQL_DATABASE_URL": database_url, "STACQL_REDIS_URL": TEST_REDIS_URL,
        "STACQL_STORAGE_URL": str(store_root), "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "stacql.cli", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )


def jobs_table(engine: Engine) -> list[tuple[str, str, dict]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, status, params FROM jobs ORDER BY params->>'key'"))
        return [tuple(r) for r in rows]


def linked(folder: Path, *sources: Path) -> Path:
    """A folder holding links to shared files (the data is read, never copied in)."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        (folder / source.name).symlink_to(source)
    return folder


def test_ingest_rasters_queues_one_job_per_raster_and_the_worker_builds_the_items(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, tmp_path: Path,
    sync_engine: Engine,
) -> None:
    folder = linked(tmp_path / "drop", RASTERS / "rasterio/byte.tif")
    linked(folder / "sub", RASTERS / "rio-tiler/cog.tif", RASTERS / "rasterio/RGB.byte.tif.aux.xml")
    (folder / "notes.txt").write_text("not a raster")
    result = stacql(catalog_db, store_root, "ingest", str(folder), "--rasters",
                    "--collection", "rasters", "--datetime", WHEN, "--queue", queue.name)
    assert result.returncode == 0, result.stderr
    assert "queued 2 extraction jobs" in result.stderr
    assert [(kind, status, params["key"]) for kind, status, params in jobs_table(sync_engine)] == [
        ("extract_item", "queued", "rasters/byte.tif"),
        ("extract_item", "queued", "rasters/sub/cog.tif"),
    ]
    assert (store_root / "rasters/sub/cog.tif").read_bytes() == (
        RASTERS / "rio-tiler/cog.tif"
    ).read_bytes()
    work(redis_conn, catalog_db, store_root, queue)
    assert sorted(items(sync_engine)) == [("rasters", "byte"), ("rasters", "cog")]


def test_ingest_rasters_sends_the_fgdc_record_beside_a_naip_tile(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, tmp_path: Path,
    sync_engine: Engine,
) -> None:
    folder = linked(tmp_path / "naip", NAIP_TIF, NAIP_FGDC)
    result = stacql(catalog_db, store_root, "ingest", str(folder), "--rasters",
                    "--collection", "naip", "--queue", queue.name)
    assert result.returncode == 0, result.stderr
    [(_, _, params)] = jobs_table(sync_engine)
    assert params["metadata_key"] == f"naip/{NAIP_FGDC.name}"
    work(redis_conn, catalog_db, store_root, queue)
    assert items(sync_engine) == [("naip", "al_m_3008501_ne_16_1_20110815_20111017")]


def test_a_raster_already_in_the_store_is_queued_under_its_key_without_a_copy(
    catalog_db: str, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    inside = linked(store_root / "incoming", RASTERS / "rasterio/byte.tif")
    result = stacql(catalog_db, store_root, "ingest", str(inside), "--rasters",
                    "--collection", "rasters", "--datetime", WHEN, "--queue", queue.name)
    assert result.returncode == 0, result.stderr
    assert [p["key"] for _, _, p in jobs_table(sync_engine)] == ["incoming/byte.tif"]
    assert sorted(p.relative_to(store_root).as_posix() for p in store_root.rglob("*.tif")) == [
        "incoming/byte.tif"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--collection", "nope"), "no collection 'nope'"),
        (("--collection", "rasters", "--datetime", "yesterday"), "datetime"),
        ((), "--rasters needs --collection"),
    ],
)
def test_ingest_rasters_refuses_a_bad_request_before_queueing_anything(
    catalog_db: str, queue: Queue, store_root: Path, sync_engine: Engine, args: tuple[str, ...],
    message: str,
) -> None:
    folder = RASTERS / "rasterio"
    result = stacql(catalog_db, store_root, "ingest", str(folder), "--rasters", *args,
                    "--queue", queue.name)
    assert result.returncode != 0
    assert message in result.stderr.lower() and "Traceback" not in result.stderr
    assert jobs_table(sync_engine) == [] and queue.count == 0
    assert list(store_root.iterdir()) == []


def _ingest_job(url: str, queue: Queue, href: str, collection: str | None = None) -> JobRecord:
    return run_with_sessions(url, lambda s: enqueue_ingest_catalog(s, queue, href, collection))


def test_the_ingest_job_loads_a_static_catalog_once(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    first = _ingest_job(catalog_db, queue, PLANET.resolve().as_uri())
    work(redis_conn, catalog_db, store_root, queue)
    second = _ingest_job(catalog_db, queue, str(PLANET.resolve()))
    work(redis_conn, catalog_db, store_root, queue)
    rows = [job_row(catalog_db, job) for job in (first, second)]
    finished = ("ingest_catalog", "finished", 1.0)
    assert [(r.kind, r.status, r.progress) for r in rows] == [finished, finished]
    assert [(r.result["inserted"], r.result["unchanged"]) for r in rows] == [(5, 0), (0, 5)]
    assert rows[0].result["collections"] == {"created": 1}
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 5


def test_the_ingest_job_reports_refused_documents_and_loads_the_rest(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, tmp_path: Path,
    sync_engine: Engine,
) -> None:
    lines = NAIP_ITEMS.read_bytes().splitlines()[:3]
    broken = orjson.loads(lines[1])
    broken["geometry"] = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}
    source = tmp_path / "items.ndjson"
    source.write_bytes(b"\n".join([lines[0], orjson.dumps(broken), lines[2]]) + b"\n")
    job = _ingest_job(catalog_db, queue, str(source))
    work(redis_conn, catalog_db, store_root, queue)
    row = job_row(catalog_db, job)
    assert (row.status, row.result["inserted"], row.result["refused"]) == ("finished", 2, 1)
    assert row.message == "loaded; 1 refused"
    assert f"{source}:2" in row.result["errors"][0]
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 2


def test_the_ingest_job_fails_for_a_missing_catalog(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, tmp_path: Path
) -> None:
    job = _ingest_job(catalog_db, queue, str(tmp_path / "missing/catalog.json"))
    work(redis_conn, catalog_db, store_root, queue)
    row = job_row(catalog_db, job)
    assert row.status == "failed"
    assert row.error == f"INVALID_INPUT: {tmp_path}/missing/catalog.json: no such file or folder"


@pytest.mark.parametrize(
    "href", ["https://example.com/catalog.json", "relative/catalog.json", "", "file://host/x"]
)
def test_enqueue_ingest_catalog_refuses_hrefs_a_worker_cannot_read(
    catalog_db: str, queue: Queue, sync_engine: Engine, href: str
) -> None:
    with pytest.raises(InvalidInput, match="catalog href"):
        _ingest_job(catalog_db, queue, href)
    assert jobs_table(sync_engine) == [] and queue.count == 0


def test_ingest_enqueue_queues_a_bulk_ingest_job_per_path(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    result = stacql(catalog_db, store_root, "ingest", str(PLANET), "--enqueue",
                    "--queue", queue.name)
    assert result.returncode == 0, result.stderr
    [(kind, status, params)] = jobs_table(sync_engine)
    assert (kind, status, params) == ("ingest_catalog", "queued", {"href": str(PLANET.resolve())})
    assert result.stdout.strip() == queue.job_ids[0]
    work(redis_conn, catalog_db, store_root, queue)
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 5



def test_bulk_load_progress_is_written_to_the_job_row_as_files_complete(
    catalog_db: str, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_module, "PROGRESS_INTERVAL", 0.01)
    job = _ingest_job(catalog_db, queue, str(PLANET.resolve()))

    async def follow(sessions: Any) -> list[tuple[float, str]]:
        await record_step(sessions, mark_started, job.id)
        progress = jobs_module._LoadProgress(total_files=4)
        writer = asyncio.create_task(progress.write_until_cancelled(sessions, str(job.id)))
        seen = []
        for source, documents in (("a.json", 1), ("b.ndjson", 500), ("b.ndjson", 500),
                                  ("c.json", 1)):
            progress(source, documents)
            await asyncio.sleep(0.3)  # many writer periods
            async with sessions() as session:
                row = await get_job(session, job.id)
            seen.append((row.progress, row.message))
        writer.cancel()
        return seen

    assert run_with_sessions(catalog_db, follow) == [
        (0.0, "0 of 4 files, 1 documents written"),
        (0.25, "1 of 4 files, 501 documents written"),
        (0.25, "1 of 4 files, 1001 documents written"),
        (0.5, "2 of 4 files, 1002 documents written"),
    ]
