"""Extraction jobs run by a real RQ worker against the scratch PostGIS catalog."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue
from sqlalchemy import Engine, text

from catalog.jobs import JobRecord, get_job
from tests.support.paths import DATA, RASTERS
from tests.workers.conftest import TEST_REDIS_URL, run_with_sessions
from workers import (
    ExtractRequest,
    RetryPolicy,
    StacqlSimpleWorker,
    WorkerConfig,
    enqueue_extract,
    run_worker,
)
from workers.checksum_cache import KEY_PREFIX

NAIP_TIF = RASTERS / "naip/m_3008501_ne_16_1_20110815.tif"
NAIP_FGDC = DATA / "fgdc/m_3008501_ne_16_1_20110815.txt"
WHEN = "2020-05-01T10:00:00Z"


def upload(store_root: Path, source: Path, key: str) -> str:
    """Put a shared file in the local asset store, as an upload does; returns its key."""
    target = store_root / key
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return key


def enqueue(url: str, queue: Queue, request: ExtractRequest) -> JobRecord:
    return run_with_sessions(url, lambda sessions: enqueue_extract(sessions, queue, request))


def work(redis_conn: Redis, url: str, store_root: Path, queue: Queue, **config: Any) -> None:
    """A burst worker on ``queue``; ``config``: more ``WorkerConfig`` fields."""
    worker_config = WorkerConfig(
        database_url=url, storage_url=str(store_root), retry=RetryPolicy(2, (0,)), **config
    )
    StacqlSimpleWorker([queue], worker_config, connection=redis_conn).work(burst=True)


def job_row(url: str, job: JobRecord) -> JobRecord:
    async def read(sessions: Any) -> JobRecord:
        async with sessions() as session:
            return await get_job(session, job.id)

    return run_with_sessions(url, read)


def items(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT collection_id, id FROM items"))]


def test_extract_job_stores_the_item_and_finishes(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, RASTERS / "rasterio/byte.tif", "up/1/byte.tif")
    request = ExtractRequest("rasters", key, datetime=WHEN)
    job = enqueue(catalog_db, queue, request)
    work(redis_conn, catalog_db, store_root, queue)
    row = job_row(catalog_db, job)
    assert (row.status, row.progress, row.error) == ("finished", 1.0, None)
    assert row.result == {
        "collection_id": "rasters", "item_id": "byte", "inserted": 1, "updated": 0,
        "unchanged": 0,
    }
    assert items(sync_engine) == [("rasters", "byte")]


def test_a_corrupt_raster_fails_the_job_with_the_reason_and_stores_no_item(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, RASTERS / "rasterio/corrupt.tif", "up/2/corrupt.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key, datetime=WHEN))
    work(redis_conn, catalog_db, store_root, queue)
    row = job_row(catalog_db, job)
    assert row.status == "failed"
    assert row.error.startswith("UNREADABLE_RASTER: corrupt.tif: it is truncated or corrupt")
    assert items(sync_engine) == []
    assert queue.fetch_job(str(job.id)).is_failed
    assert not redis_conn.keys(KEY_PREFIX + "*")  # no checksum kept for a refused file


def test_a_file_that_is_not_a_raster_fails_the_job(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, RASTERS / "rio-cogeo/dataset_namespace_metadata.xml", "up/3/a.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key, datetime=WHEN))
    work(redis_conn, catalog_db, store_root, queue)
    row = job_row(catalog_db, job)
    assert (row.status, row.error.split(":")[0]) == ("failed", "UNREADABLE_RASTER")
    assert items(sync_engine) == []


def test_a_raster_without_a_datetime_fails_asking_for_one(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, RASTERS / "rasterio/byte.tif", "up/4/byte.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key))
    work(redis_conn, catalog_db, store_root, queue)
    row = job_row(catalog_db, job)
    assert row.status == "failed"
    assert row.error.startswith("MISSING_DATETIME: byte.tif:")
    assert "give the item's datetime" in row.error
    assert items(sync_engine) == []


def test_an_unknown_collection_fails_the_job_and_writes_nothing(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, RASTERS / "rasterio/byte.tif", "up/5/byte.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("nope", key, datetime=WHEN))
    work(redis_conn, catalog_db, store_root, queue)
    row = job_row(catalog_db, job)
    assert (row.status, row.error.split(":")[0]) == ("failed", "UNKNOWN_COLLECTION")
    assert items(sync_engine) == []


def test_the_same_file_uploaded_twice_gives_one_item(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, RASTERS / "rio-tiler/cog.tif", "up/6/cog.tif")
    request = ExtractRequest("rasters", key, datetime=WHEN)
    first = enqueue(catalog_db, queue, request)
    second = enqueue(catalog_db, queue, request)
    work(redis_conn, catalog_db, store_root, queue)
    results = [job_row(catalog_db, job).result for job in (first, second)]
    assert [(r["inserted"], r["unchanged"]) for r in results] == [(1, 0), (0, 1)]
    assert items(sync_engine) == [("rasters", "cog")]


def test_a_naip_upload_with_its_fgdc_record_gives_the_published_item_id(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, NAIP_TIF, "naip/al/m_3008501_ne_16_1_20110815.tif")
    metadata = upload(store_root, NAIP_FGDC, "naip/al/m_3008501_ne_16_1_20110815.txt")
    job = enqueue(catalog_db, queue, ExtractRequest("naip", key, metadata_key=metadata))
    work(redis_conn, catalog_db, store_root, queue)
    assert job_row(catalog_db, job).status == "finished"
    with sync_engine.connect() as conn:
        row = conn.execute(text(
            "SELECT id, datetime, properties->>'naip:state', properties->>'gsd' FROM items"
        )).one()
        keys = conn.execute(text("SELECT key FROM assets ORDER BY position")).scalars().all()
    assert row[0] == "al_m_3008501_ne_16_1_20110815_20111017"
    assert row[1].isoformat() == "2011-08-15T00:00:00+00:00"
    assert (row[2], row[3]) == ("al", "1.0")
    assert keys == ["image", "thumbnail", "metadata"]
    assert (store_root / "naip/al/m_3008501_ne_16_1_20110815.thumbnail.png").is_file()


def test_the_rq_job_carries_json_ids_and_explicit_limits(
    catalog_db: str, queue: Queue, store_root: Path
) -> None:
    key = upload(store_root, RASTERS / "rasterio/byte.tif", "up/7/byte.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key, item_id="b"))
    rq_job = queue.fetch_job(str(job.id))
    assert rq_job.func_name == "workers.jobs.extract_item"
    assert rq_job.kwargs == {
        "job_id": str(job.id), "collection_id": "rasters", "key": key, "item_id": "b",
    }
    assert (rq_job.timeout, rq_job.result_ttl, rq_job.failure_ttl) == (900, 86400, 604800)
    assert job.params == {"collection_id": "rasters", "key": key, "item_id": "b"}
    assert job.status == "queued"


def test_run_worker_runs_jobs_in_forked_work_horses(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, RASTERS / "rasterio/byte.tif", "up/8/byte.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key, datetime=WHEN))
    worked = run_worker(TEST_REDIS_URL, catalog_db, str(store_root), [queue.name], burst=True)
    assert worked and job_row(catalog_db, job).status == "finished"
    assert items(sync_engine) == [("rasters", "byte")]
