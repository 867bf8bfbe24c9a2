"""Items written through STAC Transactions whose raster in our storage lacks metadata get
an extraction job; the worker completes the item, the values the client sent winning."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
import rasterio
from pyproj import Transformer
from redis import Redis
from rq import Queue
from shapely.geometry import box, shape
from sqlalchemy import Engine, text

from catalog.db import create_engine, create_sessionmaker
from catalog.errors import InvalidStorageKey
from catalog.storage import LocalAssetStore
from stacql.app import create_app
from stacql.settings import (
    DatabaseSettings,
    RedisSettings,
    Settings,
    StorageSettings,
    WorkerSettings,
)
from tests.support.access import admin_key
from tests.support.paths import RASTERS
from tests.workers.conftest import TEST_REDIS_URL, run_with_sessions
from tests.workers.test_jobs import NAIP_FGDC, NAIP_TIF, job_row, upload, work
from workers.completion import completion_request, merge_extracted
from workers.queue import COMPLETE_FUNCTION, COMPLETE_KIND, CompleteItemRequest, submit_job

BYTE = RASTERS / "rasterio/byte.tif"


def stub_item(href: str, **asset: Any) -> dict[str, Any]:
    """An item as a client registers it: a placeholder geometry, its own properties."""
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": "stub", "collection": "rasters",
        "geometry": {"type": "Point", "coordinates": [0.0, 0.0]}, "bbox": [0, 0, 0, 0],
        "properties": {"datetime": "2021-06-01T00:00:00Z", "title": "mine", "gsd": 99},
        "assets": {"raster": {"href": href, "roles": ["data"], "title": "my raster", **asset}},
        "links": [],
    }


def test_the_rule_asks_for_a_data_asset_in_storage_without_projection(tmp_path: Path) -> None:
    store = LocalAssetStore(tmp_path)
    request = completion_request(stub_item(store.href("rasters/b.tif")), store)
    assert request is not None
    assert (request.item_id, request.asset_key, request.key, request.datetime) == (
        "stub", "raster", "rasters/b.tif", "2021-06-01T00:00:00Z",
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda item: item["assets"]["raster"].update(href="https://example.com/a.tif"),
        lambda item: item["assets"]["raster"].update(roles=["overview"]),
        lambda item: item["assets"]["raster"].update({"proj:code": "EPSG:4326"}),
        lambda item: item["properties"].update({"proj:epsg": 4326}),
        lambda item: item["assets"]["raster"].pop("roles"),
        lambda item: item["assets"]["raster"].update(
            href=item["assets"]["raster"]["href"].replace("/rasters/", "/secret/")),
        lambda item: item.update(collection="other"),
    ],
    ids=["outside-storage", "not-data", "asset-proj", "item-proj", "no-roles",
         "another-collections-file", "item-of-another-collection"],
)
def test_the_rule_leaves_other_items_alone(tmp_path: Path, change: Any) -> None:
    store = LocalAssetStore(tmp_path)
    item = stub_item(store.href("rasters/b.tif"))
    change(item)
    assert completion_request(item, store) is None


def test_a_metadata_asset_in_storage_is_sent_as_the_provider_record(tmp_path: Path) -> None:
    store = LocalAssetStore(tmp_path)
    item = stub_item(store.href("rasters/n/tile.tif"))
    item["assets"]["fgdc"] = {"href": store.href("rasters/n/tile.txt"), "roles": ["metadata"]}
    assert completion_request(item, store).metadata_key == "rasters/n/tile.txt"


def test_a_metadata_record_of_another_collection_is_not_sent(tmp_path: Path) -> None:
    store = LocalAssetStore(tmp_path)
    item = stub_item(store.href("rasters/n/tile.tif"))
    item["assets"]["fgdc"] = {"href": store.href("secret/tile.txt"), "roles": ["metadata"]}
    assert completion_request(item, store).metadata_key is None


@pytest.mark.parametrize(("key", "metadata_key"), [
    ("secret/a.tif", None), ("rasters/a.tif", "secret/a.txt"), ("rasters-x/a.tif", None),
])
def test_a_completion_job_reads_only_files_of_its_collection(
    key: str, metadata_key: str | None
) -> None:
    request = CompleteItemRequest("rasters", "stub", "data", key, metadata_key=metadata_key)
    with pytest.raises(InvalidStorageKey, match="not stored under collection 'rasters'"):
        request.checked()


def test_merge_keeps_the_stored_values_and_takes_the_footprint() -> None:
    stored = stub_item("file:///s/a.tif")
    extracted = {
        "geometry": {"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1]]]},
        "bbox": [1, 1, 2, 2], "stac_extensions": ["proj"],
        "properties": {"datetime": "2000-01-01T00:00:00Z", "gsd": 1, "proj:code": "EPSG:1"},
        "assets": {
            "data": {"href": "file:///s/a.tif", "roles": ["data"], "file:size": 5},
            "thumbnail": {"href": "file:///s/a.thumbnail.png", "roles": ["thumbnail"]},
        },
    }
    merged = merge_extracted(copy.deepcopy(stored), extracted, "raster", "file:///s/a.tif")
    assert (merged["geometry"], merged["bbox"]) == (extracted["geometry"], [1, 1, 2, 2])
    assert merged["properties"] == {**stored["properties"], "proj:code": "EPSG:1"}
    assert merged["assets"]["raster"] == {**stored["assets"]["raster"], "file:size": 5}
    assert set(merged["assets"]) == {"raster", "thumbnail"}
    assert merged["stac_extensions"] == ["proj"]


def _settings(
    url: str, store_root: Path, queue: Queue, redis_url: str = TEST_REDIS_URL
) -> Settings:
    return Settings(
        database=DatabaseSettings(url=url), redis=RedisSettings(url=redis_url),
        storage=StorageSettings(url=str(store_root)), workers=WorkerSettings(queues=[queue.name]),
    )


def call(settings: Settings, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to the real app as an admin, in its own event loop (the worker tests
    are sync)."""

    async def send() -> httpx.Response:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            engine = create_engine(settings.database.url, pool_size=1)
            try:
                headers = {"X-API-Key": await admin_key(create_sessionmaker(engine))}
            finally:
                await engine.dispose()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=headers
            ) as client:
                return await client.request(method, path, **kwargs)

    return asyncio.run(send())


def test_a_posted_stub_is_completed_by_the_worker(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    settings = _settings(catalog_db, store_root, queue)
    key = upload(store_root, BYTE, "rasters/tx/byte.tif")
    href = LocalAssetStore(store_root).href(key)
    created = call(settings, "POST", "/collections/rasters/items", json=stub_item(href))
    assert created.status_code == 201, created.text
    [job_id] = created.headers["Stacql-Jobs"].split(", ")
    assert queue.job_ids == [job_id]
    work(redis_conn, catalog_db, store_root, queue)

    item = call(settings, "GET", "/collections/rasters/items/stub").json()
    with rasterio.open(BYTE) as ds:
        to_wgs84 = Transformer.from_crs(ds.crs, "EPSG:4326", always_xy=True)
        bounds = to_wgs84.transform_bounds(*ds.bounds, densify_pts=21)
        assert item["properties"]["proj:code"] == f"EPSG:{ds.crs.to_epsg()}"
        assert item["properties"]["proj:shape"] == [ds.height, ds.width]
    assert shape(item["geometry"]).within(box(*bounds).buffer(1e-9))
    assert (item["properties"]["title"], item["properties"]["gsd"]) == ("mine", 99)
    assert item["properties"]["datetime"] == "2021-06-01T00:00:00Z"
    raster = item["assets"]["raster"]
    assert (raster["title"], raster["file:size"]) == ("my raster", BYTE.stat().st_size)
    assert raster["raster:bands"][0]["data_type"] == "uint8"
    assert item["assets"]["thumbnail"]["roles"] == ["thumbnail"]
    with sync_engine.connect() as conn:
        status = conn.execute(text("SELECT status, kind FROM jobs")).one()
    assert tuple(status) == ("finished", "complete_item")

    replaced = call(settings, "PUT", "/collections/rasters/items/stub", json=item)
    assert replaced.status_code == 204 and "Stacql-Jobs" not in replaced.headers
    assert queue.count == 0


def test_a_naip_stub_with_its_fgdc_asset_gets_the_naip_fields(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path
) -> None:
    settings = _settings(catalog_db, store_root, queue)
    store = LocalAssetStore(store_root)
    tile = store.href(upload(store_root, NAIP_TIF, f"naip/{NAIP_TIF.name}"))
    record = store.href(upload(store_root, NAIP_FGDC, f"naip/{NAIP_FGDC.name}"))
    stub = stub_item(tile)
    stub["collection"] = "naip"
    stub["assets"]["metadata"] = {"href": record, "roles": ["metadata"]}
    created = call(settings, "POST", "/collections/naip/items", json=stub)
    assert created.status_code == 201 and created.headers.get("Stacql-Jobs")
    work(redis_conn, catalog_db, store_root, queue)
    item = call(settings, "GET", "/collections/naip/items/stub").json()
    assert item["properties"]["naip:state"] == "al"
    assert [b["common_name"] for b in item["assets"]["raster"]["eo:bands"]] == [
        "red", "green", "blue", "nir",
    ]


def test_a_stub_deleted_before_its_job_runs_fails_the_job_and_is_not_recreated(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    settings = _settings(catalog_db, store_root, queue)
    href = LocalAssetStore(store_root).href(upload(store_root, BYTE, "rasters/tx/byte.tif"))
    assert call(settings, "POST", "/collections/rasters/items", json=stub_item(href)).is_success
    assert call(settings, "DELETE", "/collections/rasters/items/stub").status_code == 204
    work(redis_conn, catalog_db, store_root, queue)
    with sync_engine.connect() as conn:
        status, error = conn.execute(text("SELECT status, error FROM jobs")).one()
        count = conn.execute(text("SELECT count(*) FROM items")).scalar()
    assert (status, error.split(":")[0], count) == ("failed", "ITEM_NOT_FOUND", 0)


def test_with_redis_down_the_write_stands_and_the_job_row_says_why(
    catalog_db: str, queue: Queue, store_root: Path, sync_engine: Engine
) -> None:
    settings = _settings(catalog_db, store_root, queue, redis_url="redis://127.0.0.1:1/0")
    href = LocalAssetStore(store_root).href(upload(store_root, BYTE, "rasters/tx/byte.tif"))
    created = call(settings, "POST", "/collections/rasters/items", json=stub_item(href))
    assert created.status_code == 201 and "Stacql-Jobs" not in created.headers
    with sync_engine.connect() as conn:
        status, error = conn.execute(text("SELECT status, error FROM jobs")).one()
        ids = conn.execute(text("SELECT id FROM items")).scalars().all()
    assert (status, ids) == ("failed", ["stub"])
    assert "could not be queued" in error



UPSERT = """mutation($items: [JSON!]!) { upsertItems(items: $items) { ids jobIds } }"""


def _completed(settings: Settings, item_id: str) -> dict[str, Any]:
    item = call(settings, "GET", f"/collections/rasters/items/{item_id}").json()
    # What the worker added, without what differs by item (ids, links, hrefs).
    return {
        "properties": {k: v for k, v in item["properties"].items() if k.startswith("proj:")},
        "geometry": item["geometry"], "raster": item["assets"]["raster"]["raster:bands"],
        "assets": sorted(item["assets"]),
    }


def test_the_same_write_through_graphql_is_completed_the_same_way(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path
) -> None:
    settings = _settings(catalog_db, store_root, queue)
    href = LocalAssetStore(store_root).href(upload(store_root, BYTE, "rasters/tx/byte.tif"))
    by_stac = stub_item(href)
    by_graphql = {**stub_item(href), "id": "stub-graphql"}
    assert call(settings, "POST", "/collections/rasters/items", json=by_stac).is_success
    response = call(settings, "POST", "/graphql",
                    json={"query": UPSERT, "variables": {"items": [by_graphql]}})
    payload = response.json()["data"]["upsertItems"]
    assert len(payload["jobIds"]) == 1 and queue.count == 2
    work(redis_conn, catalog_db, store_root, queue)
    assert _completed(settings, "stub-graphql") == _completed(settings, "stub")
    assert "proj:code" in _completed(settings, "stub")["properties"]


def test_a_bulk_stac_insert_queues_the_completion_a_graphql_upsert_queues(
    catalog_db: str, redis_conn: Redis, queue: Queue, store_root: Path
) -> None:
    settings = _settings(catalog_db, store_root, queue)
    href = LocalAssetStore(store_root).href(upload(store_root, BYTE, "rasters/tx/byte.tif"))
    bulk = {"type": "FeatureCollection", "features": [stub_item(href)]}
    inserted = call(settings, "POST", "/collections/rasters/items", json=bulk)
    assert inserted.status_code == 201, inserted.text
    [job_id] = inserted.headers["Stacql-Jobs"].split(", ")
    by_graphql = {**stub_item(href), "id": "stub-graphql"}
    response = call(settings, "POST", "/graphql",
                    json={"query": UPSERT, "variables": {"items": [by_graphql]}})
    assert len(response.json()["data"]["upsertItems"]["jobIds"]) == 1
    assert queue.job_ids[0] == job_id and queue.count == 2
    work(redis_conn, catalog_db, store_root, queue)
    assert _completed(settings, "stub-graphql") == _completed(settings, "stub")


def test_a_queued_completion_of_another_collections_file_fails_without_reading_it(
    catalog_db: str, queue: Queue, store_root: Path, redis_conn: Redis
) -> None:
    # As a job queued before the check existed would be: the worker checks it again.
    upload(store_root, BYTE, "secret/byte.tif")
    params = {"collection_id": "rasters", "item_id": "stub", "asset_key": "raster",
              "key": "secret/byte.tif"}
    job = run_with_sessions(catalog_db, lambda sessions: submit_job(
        sessions, queue, COMPLETE_KIND, COMPLETE_FUNCTION, params))
    work(redis_conn, catalog_db, store_root, queue)
    row = job_row(catalog_db, job)
    assert row.status == "failed" and row.error.startswith("INVALID_STORAGE_KEY"), row.error
    assert not list(store_root.rglob("*.thumbnail.png"))
