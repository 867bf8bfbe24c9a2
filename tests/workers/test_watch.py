"""``stacql watch``: new or changed rasters under a storage prefix become extraction jobs,
once each, across restarts; a real worker turns a dropped file into an item."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from rq import Queue
from sqlalchemy import Engine, text

from catalog.db import create_engine, create_sessionmaker
from catalog.jobs import JobRecord
from catalog.storage import LocalAssetStore
from tests.support.paths import RASTERS, REPO
from tests.workers.conftest import TEST_REDIS_URL
from tests.workers.test_jobs import NAIP_FGDC, NAIP_TIF, items
from workers.watch import RasterWatcher, WatchPlan

COG = RASTERS / "rio-tiler/cog.tif"


def drop(source: Path, target: Path) -> None:
    """Put a file in place at once (as ``mv`` does), so no poll sees it half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent.parent / f".{target.name}.part"
    shutil.copyfile(source, staging)
    os.replace(staging, target)


def polls(url: str, queue: Queue, root: Path, plan: WatchPlan, count: int) -> list[list[str]]:
    """The keys queued by each of ``count`` polls of a fresh watcher (a restart)."""

    async def run() -> list[list[str]]:
        engine = create_engine(url, pool_size=1)
        try:
            watcher = RasterWatcher(create_sessionmaker(engine), queue, LocalAssetStore(root), plan)
            rounds = []
            for _ in range(count):
                jobs: list[JobRecord] = await watcher.poll_once()
                rounds.append([job.params["key"] for job in jobs])
            return rounds
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_raster_is_queued_once_it_settles_and_never_again_until_it_changes(
    catalog_db: str, queue: Queue, store_root: Path
) -> None:
    plan = WatchPlan("rasters", prefix="drop")
    drop(COG, store_root / "drop/a.tif")
    (store_root / "drop/readme.txt").write_text("not a raster")
    (store_root / "elsewhere").mkdir()
    drop(COG, store_root / "elsewhere/b.tif")
    assert polls(catalog_db, queue, store_root, plan, 3) == [[], ["drop/a.tif"], []]
    assert polls(catalog_db, queue, store_root, plan, 3) == [[], [], []]  # after a restart
    drop(RASTERS / "rasterio/byte.tif", store_root / "drop/a.tif")
    assert polls(catalog_db, queue, store_root, plan, 2) == [[], ["drop/a.tif"]]
    assert queue.count == 2


def test_a_raster_deleted_and_put_back_unchanged_is_queued_again(
    catalog_db: str, queue: Queue, store_root: Path
) -> None:
    plan = WatchPlan("rasters", prefix="drop")
    target = store_root / "drop/a.tif"
    drop(COG, target)
    times = (target.stat().st_atime, target.stat().st_mtime)
    assert polls(catalog_db, queue, store_root, plan, 2) == [[], ["drop/a.tif"]]
    target.unlink()
    assert polls(catalog_db, queue, store_root, plan, 1) == [[]]
    drop(COG, target)
    os.utime(target, times)  # the same size and modification time as before
    assert polls(catalog_db, queue, store_root, plan, 2) == [[], ["drop/a.tif"]]
    assert queue.count == 2


def test_a_file_still_growing_is_not_queued(
    catalog_db: str, queue: Queue, store_root: Path
) -> None:
    plan = WatchPlan("rasters", prefix="drop")
    target = store_root / "drop/growing.tif"
    target.parent.mkdir()
    data = COG.read_bytes()

    async def run() -> list[list[str]]:
        engine = create_engine(catalog_db, pool_size=1)
        try:
            store = LocalAssetStore(store_root)
            watcher = RasterWatcher(create_sessionmaker(engine), queue, store, plan)
            rounds = []
            for end in (len(data) // 3, 2 * len(data) // 3, len(data), None):
                if end is not None:  # the last poll sees the file as the one before did
                    target.write_bytes(data[:end])
                rounds.append([job.params["key"] for job in await watcher.poll_once()])
            return rounds
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == [[], [], [], ["drop/growing.tif"]]


def test_a_naip_tile_is_queued_with_the_record_beside_it_and_again_when_it_arrives(
    catalog_db: str, queue: Queue, store_root: Path
) -> None:
    plan = WatchPlan("naip", prefix="naip")
    drop(NAIP_TIF, store_root / f"naip/{NAIP_TIF.name}")
    assert polls(catalog_db, queue, store_root, plan, 2) == [[], [f"naip/{NAIP_TIF.name}"]]
    drop(NAIP_FGDC, store_root / f"naip/{NAIP_FGDC.name}")
    assert polls(catalog_db, queue, store_root, plan, 2) == [[], [f"naip/{NAIP_TIF.name}"]]
    last = queue.jobs[-1]
    assert last.kwargs["metadata_key"] == f"naip/{NAIP_FGDC.name}"


def stacql_process(url: str, store_root: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ, "STACQL_DATABASE_URL": url, "STACQL_REDIS_URL": TEST_REDIS_URL,
        "STACQL_STORAGE_URL": str(store_root), "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "stacql.cli", *args], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> tuple[int, str]:
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return process.returncode, err


def test_a_dropped_raster_becomes_an_item_through_watch_and_a_real_worker(
    catalog_db: str, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    watcher = stacql_process(catalog_db, store_root, "watch", "--collection", "rasters",
                             "--prefix", "drop", "--interval", "0.3", "--queue", queue.name,
                             "--datetime", "2024-02-03T04:05:06Z")
    worker = stacql_process(catalog_db, store_root, "worker", "--queue", queue.name)
    try:
        assert wait_for(lambda: "watching" in (watcher.stderr.readline() or ""), 30)
        drop(COG, store_root / "drop/2024/scene.tif")
        appeared = wait_for(lambda: items(sync_engine) == [("rasters", "scene")])
    finally:
        watch_code, watch_err = stop(watcher)
        _, worker_err = stop(worker)
    assert appeared, f"no item; watch: {watch_err}\nworker: {worker_err}"
    assert (watch_code, "watch stopped" in watch_err) == (0, True), watch_err
    with sync_engine.connect() as conn:
        jobs = conn.execute(text("SELECT status, params->>'key' FROM jobs")).all()
    assert [tuple(j) for j in jobs] == [("finished", "drop/2024/scene.tif")]


def test_watch_stops_on_sigint(catalog_db: str, queue: Queue, store_root: Path) -> None:
    watcher = stacql_process(catalog_db, store_root, "watch", "--collection", "rasters",
                             "--interval", "5", "--queue", queue.name)
    assert wait_for(lambda: "watching" in (watcher.stderr.readline() or ""), 30)
    started = time.monotonic()
    code, err = stop(watcher, signal.SIGINT)
    assert (code, "watch stopped" in err) == (0, True)
    assert time.monotonic() - started < 5  # it does not wait for the next poll


def test_watch_refuses_an_unknown_collection(
    catalog_db: str, queue: Queue, store_root: Path
) -> None:
    watcher = stacql_process(catalog_db, store_root, "watch", "--collection", "nope")
    _, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 1
    assert "no collection 'nope'" in err and "Traceback" not in err
