"""Export jobs in a real worker, ``stacql export``, and stac-geoparquet loaded back by
``stacql ingest`` and by the bulk ingest job."""

from __future__ import annotations

from pathlib import Path

import orjson
from redis import Redis
from rq import Queue
from sqlalchemy import Engine, text

from catalog.access import Principal
from catalog.export import ExportSpec
from catalog.ingest import load_path
from tests.support.exports import geoparquet_items
from tests.workers.conftest import run_with_sessions
from tests.workers.test_ingest import NAIP_ITEMS, stacql
from tests.workers.test_jobs import items, job_row, work
from workers import enqueue_export, enqueue_ingest_catalog

OWNER = Principal("read", name="tests", key_id="owner-key")


def load_naip(url: str) -> None:
    report = run_with_sessions(url, lambda sessions: load_path(sessions, NAIP_ITEMS))
    assert report.ok and report.items.inserted == 1000, report.errors


def test_an_export_job_stores_what_stacql_export_writes(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, tmp_path: Path,
) -> None:
    load_naip(catalog_db)
    spec = ExportSpec.of(OWNER, {"collections": ["naip"], "filter": "gsd < 1"}, "geoparquet")
    job = run_with_sessions(catalog_db, lambda s: enqueue_export(s, queue, spec))
    assert job.params["owner"] == "key:owner-key"
    work(redis_conn, catalog_db, store_root, queue)
    done = job_row(catalog_db, job)
    assert (done.status, done.progress, done.error) == ("finished", 1.0, None)
    fine = [i for i in map(orjson.loads, NAIP_ITEMS.read_bytes().splitlines())
            if i["properties"]["gsd"] < 1]
    assert done.result["items"] == len(fine) and done.result["collections"] == ["naip"]
    assert sorted(i["id"] for i in geoparquet_items(store_root / done.result["key"])) == sorted(
        i["id"] for i in fine
    )
    stored = store_root / done.result["key"]
    assert done.result["key"] == f"_exports/{job.id}.parquet"
    assert done.result["bytes"] == stored.stat().st_size

    cli_file = tmp_path / "naip.parquet"
    result = stacql(catalog_db, store_root, "export", str(cli_file), "-c", "naip",
                    "--filter", "gsd < 1")
    assert result.returncode == 0, result.stderr
    assert f"{len(fine)} items of 1 collections" in result.stderr
    assert cli_file.read_bytes() == stored.read_bytes()


def test_geoparquet_loads_through_the_cli_and_the_ingest_job(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, tmp_path: Path,
    sync_engine: Engine,
) -> None:
    load_naip(catalog_db)
    exported = tmp_path / "naip.parquet"
    assert stacql(catalog_db, store_root, "export", str(exported)).returncode == 0
    expected = sorted(("naip", i["id"]) for i in geoparquet_items(exported))

    def empty() -> None:
        with sync_engine.begin() as conn:
            conn.execute(text("TRUNCATE collections, items CASCADE"))

    empty()
    result = stacql(catalog_db, store_root, "ingest", str(exported))
    assert result.returncode == 0, result.stderr
    assert "1000 inserted" in result.stderr
    assert sorted(items(sync_engine)) == expected

    empty()
    job = run_with_sessions(
        catalog_db, lambda s: enqueue_ingest_catalog(s, queue, str(exported))
    )
    work(redis_conn, catalog_db, store_root, queue)
    done = job_row(catalog_db, job)
    assert done.status == "finished", done.error
    assert (done.result["inserted"], done.result["refused"]) == (1000, 0)
    assert sorted(items(sync_engine)) == expected


def test_an_export_of_a_bad_file_format_fails_its_ingest_job(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    job = run_with_sessions(catalog_db, lambda s: enqueue_ingest_catalog(s, queue, str(broken)))
    work(redis_conn, catalog_db, store_root, queue)
    done = job_row(catalog_db, job)
    assert done.status == "finished" and done.result["refused"] == 1
    assert "not a readable Parquet file" in done.result["errors"][0]
