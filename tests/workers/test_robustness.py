"""Robustness with real forking workers (``tests/workers/worker_main.py``): the database
going away and coming back, bad input, a worker killed mid-job, two workers on a queue."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from catalog.jobs import JobRecord
from catalog.storage import ObjectAssetStore
from tests.support.object_stores import moto_s3, s3_options
from tests.support.paths import RASTERS, REPO
from tests.workers.proxy import TcpProxy, free_port
from tests.workers.test_jobs import WHEN, enqueue, items, job_row, upload
from tests.workers.test_watch import wait_for
from workers import (
    ExtractRequest,
    RetryPolicy,
    StacqlSimpleWorker,
    WorkerConfig,
)


@pytest.fixture(scope="session")
def slow_raster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5000 x 5000 x 3 deflate GeoTIFF of noise: reading it takes long enough (most of
    a second) to kill a worker in the middle."""
    path = tmp_path_factory.mktemp("slow") / "noise.tif"
    data = np.random.default_rng(0).integers(1, 255, size=(3, 5000, 5000), dtype=np.uint8)
    profile = {
        "driver": "GTiff", "width": 5000, "height": 5000, "count": 3, "dtype": "uint8",
        "crs": "EPSG:32616", "transform": from_origin(500_000, 3_400_000, 1, 1),
        "compress": "deflate", "tiled": True,
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    return path


class Workers:
    """Real worker processes, each in its own process group (worker + work horse)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, database_url: str, store_root: Path, queue: Queue) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.workers.worker_main", database_url, str(store_root),
             queue.name],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    running = Workers(tmp_path)
    yield running
    running.stop_all()


def work_horse(worker: subprocess.Popen[bytes], raster: Path) -> int:
    """The pid of the worker's child that has ``raster`` open: the horse forked for the
    running job. The worker has other children (RQ's scheduler, the companion process,
    and whatever they fork), so the youngest child is not always the horse."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
        for pid in children:
            if any(_opened(pid, fd) == raster for fd in _fds(pid)):
                return int(pid)
        time.sleep(0.05)
    raise AssertionError(f"no child of worker {worker.pid} has {raster} open")


def _fds(pid: str) -> list[Path]:
    try:
        return list(Path(f"/proc/{pid}/fd").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return []


def _opened(pid: str, fd: Path) -> Path | None:
    try:
        return Path(os.readlink(fd))
    except OSError:  # closed between the listing and the read
        return None


def rq_job(queue: Queue, job: JobRecord) -> Job:
    return Job.fetch(str(job.id), connection=queue.connection, serializer=JSONSerializer)


def is_final(url: str, job: JobRecord) -> bool:
    return job_row(url, job).is_final


def test_the_database_unreachable_then_back_delays_the_job_but_it_finishes(
    catalog_db: str, queue: Queue, store_root: Path, sync_engine: Engine, workers: Workers
) -> None:
    job = enqueue(catalog_db, queue, ExtractRequest(
        "rasters", upload(store_root, RASTERS / "rasterio/byte.tif", "u/byte.tif"), datetime=WHEN
    ))
    proxy = TcpProxy(free_port(), ("127.0.0.1", make_url(catalog_db).port or 5432))
    workers.start(str(make_url(catalog_db).set(port=proxy.port)), store_root, queue)
    try:
        # The worker cannot reach the database: the job is retried with backoff.
        assert wait_for(lambda: (rq_job(queue, job).number_of_retries or 0) >= 2, 60), (
            workers.logs()
        )
        assert job_row(catalog_db, job).status == "queued" and items(sync_engine) == []
        proxy.open()
        assert wait_for(lambda: is_final(catalog_db, job), 60), workers.logs()
    finally:
        proxy.close()
    row = job_row(catalog_db, job)
    assert (row.status, row.error, row.result["inserted"]) == ("finished", None, 1)
    assert items(sync_engine) == [("rasters", "byte")]
    assert "database unavailable" in workers.logs()


@pytest.mark.parametrize(
    ("source", "code"),
    [
        (RASTERS / "rasterio/corrupt.tif", "UNREADABLE_RASTER"),
        (RASTERS / "image-tiff/malformed_open_error.tif", "UNREADABLE_RASTER"),
        (RASTERS / "rio-cogeo/dataset_namespace_metadata.xml", "UNREADABLE_RASTER"),
        (RASTERS / "rasterio/all-nodata.tif", "INVALID_RASTER"),
    ],
    ids=["corrupt", "malformed", "not-a-raster", "all-nodata"],
)
def test_bad_input_fails_at_once_and_is_never_run_again(
    catalog_db: str, queue: Queue, store_root: Path, sync_engine: Engine, workers: Workers,
    source: Path, code: str,
) -> None:
    key = upload(store_root, source, "bad/file.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key, datetime=WHEN))
    workers.start(catalog_db, store_root, queue)
    assert wait_for(lambda: is_final(catalog_db, job), 60), workers.logs()
    time.sleep(1.5)  # longer than the retry backoff: a retry would have started by now
    row = job_row(catalog_db, job)
    assert (row.status, row.error.split(":")[0]) == ("failed", code)
    assert "file.tif" in row.error
    failed = rq_job(queue, job)
    outcomes = [result.type for result in failed.results()]  # newest first
    # One failure, and nothing after it (a transient retry before it, on a busy
    # database, would show as RETRIED).
    assert failed.is_failed and outcomes.count(Result.Type.FAILED) == 1
    assert outcomes[0] == Result.Type.FAILED
    assert items(sync_engine) == []


def _kill_while_reading(
    catalog_db: str, queue: Queue, store_root: Path, slow_raster: Path, workers: Workers,
    kill: str,
) -> tuple[JobRecord, subprocess.Popen[bytes]]:
    key = upload(store_root, slow_raster, "slow/noise.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key, datetime=WHEN))
    worker = workers.start(catalog_db, store_root, queue)
    reading = lambda: job_row(catalog_db, job).message == "reading the raster"  # noqa: E731
    assert wait_for(reading, 60), workers.logs()
    horse = work_horse(worker, (store_root / key).resolve())
    if kill == "all":  # as when the machine goes: RQ puts the horse in a session of its own
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    os.kill(horse, signal.SIGKILL)
    return job, worker


def test_a_work_horse_killed_midway_leaves_no_item_and_the_job_runs_again(
    catalog_db: str, queue: Queue, store_root: Path, sync_engine: Engine, workers: Workers,
    slow_raster: Path,
) -> None:
    job, _ = _kill_while_reading(catalog_db, queue, store_root, slow_raster, workers, "horse")
    assert wait_for(lambda: is_final(catalog_db, job), 60), workers.logs()
    row = job_row(catalog_db, job)
    assert (row.status, row.result["inserted"]) == ("finished", 1)
    assert items(sync_engine) == [("rasters", "noise")]
    assert rq_job(queue, job).retries_left == 1  # one of the two lost-job retries


def test_a_worker_killed_midway_leaves_no_item_and_its_job_is_run_by_another(
    catalog_db: str, queue: Queue, store_root: Path, sync_engine: Engine, workers: Workers,
    slow_raster: Path,
) -> None:
    job, _ = _kill_while_reading(catalog_db, queue, store_root, slow_raster, workers, "all")
    time.sleep(1.0)
    assert job_row(catalog_db, job).status == "started"
    assert items(sync_engine) == []
    # RQ declares a job abandoned once its execution's heartbeat expires (a minute and
    # more); its registry cleanup, which every worker runs, is called here with a
    # timestamp past that expiry instead of waiting for it.
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 3600)
    workers.start(catalog_db, store_root, queue)
    assert wait_for(lambda: is_final(catalog_db, job), 60), workers.logs()
    row = job_row(catalog_db, job)
    assert (row.status, row.result["inserted"]) == ("finished", 1)
    assert items(sync_engine) == [("rasters", "noise")]


def test_two_workers_on_one_queue_run_each_job_once_and_the_same_file_gives_one_item(
    catalog_db: str, queue: Queue, store_root: Path, sync_engine: Engine, workers: Workers
) -> None:
    sources = ["rasterio/byte.tif", "rio-tiler/cog.tif", "rasterio/RGB.byte.tif",
               "rio-tiler/cog_dateline.tif", "rasterio/shade.tif"]
    keys = [upload(store_root, RASTERS / s, f"two/{Path(s).name}") for s in sources]
    jobs = [
        enqueue(catalog_db, queue, ExtractRequest("rasters", key, datetime=WHEN))
        for key in keys + keys  # every file twice
    ]
    workers.start(catalog_db, store_root, queue)
    workers.start(catalog_db, store_root, queue)
    assert wait_for(lambda: all(is_final(catalog_db, j) for j in jobs), 120), workers.logs()
    rows = [job_row(catalog_db, job) for job in jobs]
    assert {row.status for row in rows} == {"finished"}, [r.error for r in rows]
    assert all(len(rq_job(queue, job).results()) == 1 for job in jobs)
    for first, second in zip(rows[:5], rows[5:], strict=True):
        assert first.result["inserted"] + second.result["inserted"] == 1
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 5
    assert len({rq_job(queue, job).worker_name for job in jobs}) == 2  # both took jobs


@pytest.fixture
def s3_server() -> Iterator[str]:
    """A real S3 API over HTTP (moto's server) with a bucket ``assets``; its URL."""
    with moto_s3() as url:
        yield url


@pytest.mark.parametrize(("drops", "status"), [(2, "finished"), (50, "failed")])
def test_storage_unreachable_is_retried_with_backoff_until_it_is_back_or_the_policy_ends(
    catalog_db: str, redis_conn: Redis, queue: Queue, sync_engine: Engine, s3_server: str,
    drops: int, status: str,
) -> None:
    asyncio.run(ObjectAssetStore("s3://assets/up", **s3_options(s3_server)).put(
        "byte.tif", (RASTERS / "rasterio/byte.tif").read_bytes()
    ))
    proxy = TcpProxy(free_port(), ("127.0.0.1", int(s3_server.rsplit(":", 1)[1])), drops)
    proxy.open()
    try:
        config = WorkerConfig(
            database_url=catalog_db, storage_url="s3://assets/up",
            storage_options=s3_options(f"http://127.0.0.1:{proxy.port}"),
            retry=RetryPolicy(3, (0,)), convert_to_cog=False,
        )
        job = enqueue(catalog_db, queue, ExtractRequest("rasters", "byte.tif", datetime=WHEN))
        StacqlSimpleWorker([queue], config, connection=redis_conn).work(burst=True)
    finally:
        proxy.close()
    row = job_row(catalog_db, job)
    assert row.status == status
    if status == "finished":
        assert rq_job(queue, job).number_of_retries == 2
        with sync_engine.connect() as conn:
            href = conn.execute(text("SELECT href FROM assets WHERE key = 'data'")).scalar()
        assert href == "s3://assets/up/byte.tif"
    else:
        assert row.error.startswith("STORAGE_ERROR: cannot check asset 'byte.tif'")
        assert items(sync_engine) == []
