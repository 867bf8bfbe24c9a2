"""Uploads that are not cloud-optimized get a COG beside them; the item points to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from redis import Redis
from rio_cogeo.cogeo import cog_validate
from rq import Queue
from sqlalchemy import Engine, text

from tests.support.paths import RASTERS
from tests.workers.test_jobs import WHEN, enqueue, job_row, upload, work
from workers.cog import COG_SUFFIX, is_cloud_optimized
from workers.extract.files import file_fields
from workers.folders import is_raster_name
from workers.queue import ExtractRequest


def _assets(engine: Engine, item_id: str) -> dict[str, dict]:
    query = text(
        "SELECT key, href, media_type, roles, fields FROM assets WHERE item_id = :i"
    )
    with engine.connect() as conn:
        return {row.key: {"href": row.href, "type": row.media_type, "roles": row.roles,
                          **row.fields} for row in conn.execute(query, {"i": item_id})}


def _path(href: str) -> Path:
    return Path(href.removeprefix("file://"))


def test_a_plain_geotiff_upload_gets_a_cog_and_keeps_the_original(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    source = RASTERS / "rasterio/RGB.byte.tif"
    assert not is_cloud_optimized(source)
    key = upload(store_root, source, "up/cog/RGB.byte.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key, datetime=WHEN))
    work(redis_conn, catalog_db, store_root, queue)
    assert job_row(catalog_db, job).status == "finished"
    assets = _assets(sync_engine, "RGB")
    data, original = assets["data"], assets["original"]
    cog = _path(data["href"])
    assert cog.name == f"RGB{COG_SUFFIX}" and cog_validate(str(cog), quiet=True)[0]
    assert data["type"].endswith("profile=cloud-optimized")
    assert data["file:size"] == cog.stat().st_size
    assert data["file:checksum"] == file_fields(cog)["file:checksum"]
    assert _path(original["href"]) == store_root.resolve() / key
    assert original["roles"] == ["source"]
    assert original["file:checksum"] == file_fields(source)["file:checksum"]
    with rasterio.open(source) as src, rasterio.open(cog) as dst:
        assert (dst.crs, dst.transform, dst.shape) == (src.crs, src.transform, src.shape)
        np.testing.assert_array_equal(dst.read(), src.read())


def test_a_cog_upload_is_kept_as_it_is(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    key = upload(store_root, RASTERS / "rio-tiler/cog.tif", "up/cog/cog.tif")
    job = enqueue(catalog_db, queue, ExtractRequest("rasters", key, datetime=WHEN))
    work(redis_conn, catalog_db, store_root, queue)
    assert job_row(catalog_db, job).status == "finished"
    assets = _assets(sync_engine, "cog")
    assert "original" not in assets
    assert _path(assets["data"]["href"]) == store_root.resolve() / key
    assert not list((store_root / "up/cog").glob(f"*{COG_SUFFIX}"))


def test_derived_cogs_are_not_taken_for_uploads_by_folder_ingests_and_watchers() -> None:
    assert is_raster_name("scene.tif") and is_raster_name("scene.cog.tif")
    assert not is_raster_name(f"scene{COG_SUFFIX}")
