"""``uploadAsset``: the GraphQL multipart request stores the file, queues a job, and a
real RQ worker turns it into a searchable item."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any

import blake3
import pytest
import rasterio
from rasterio.warp import transform_bounds
from sqlalchemy import text

from catalog.search.lookup import get_item
from stacql.settings import WorkerSettings
from tests.graphql_api.conftest import TEST_REDIS_URL, GraphQL, admin_key, app_settings
from tests.graphql_api.test_mutations import CREATE, UPSERT, a_collection, an_item
from tests.support.app_client import app_client
from tests.support.paths import DATA, RASTERS, REPO, STAC_DATA

NAIP_TIF = RASTERS / "naip/m_3008501_ne_16_1_20110815.tif"
NAIP_FGDC = DATA / "fgdc/m_3008501_ne_16_1_20110815.txt"

UPLOAD = """mutation($file: Upload!, $sidecar: Upload, $collectionId: String!, $when: DateTime) {
  uploadAsset(file: $file, sidecar: $sidecar, collectionId: $collectionId, datetime: $when) {
    id status kind } }"""
JOB = """query($id: ID!) { job(id: $id) { status error result
  item { id collectionId bbox datetime property(name: "naip:state")
         assets { key roles mediaType } } } }"""


async def run_worker_burst(
    database_url: str, storage: Path, queue: str, **settings: str
) -> None:
    """``stacql worker --burst`` on ``queue``: it works until the queue is empty;
    ``settings`` are more environment variables (``STACQL_WORKERS_CHECKSUM=...``)."""
    env = {
        **os.environ, "STACQL_DATABASE_URL": database_url, "STACQL_REDIS_URL": TEST_REDIS_URL,
        "STACQL_STORAGE_URL": str(storage), **settings,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stacql.cli", "worker", "--burst", "--queue", queue,
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode(errors="replace")


@pytest.fixture
async def upload_gql(
    scratch_url: str, scratch_sessions, tmp_path: Path
) -> AsyncIterator[tuple[GraphQL, str, Path]]:
    """GraphQL on an empty catalog with its own RQ queue and storage folder."""
    queue = f"test-uploads-{uuid.uuid4().hex[:8]}"
    storage = tmp_path / "assets"
    settings = app_settings(scratch_url, storage).model_copy(
        update={"workers": WorkerSettings(queues=[queue])}
    )
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    async with app_client(settings, headers) as (app, client):
        yield GraphQL(app, client), queue, storage


@pytest.fixture(params=["sha2-256", "blake3"])
async def checksum_gql(
    request: pytest.FixtureRequest, scratch_url: str, scratch_sessions, tmp_path: Path
) -> AsyncIterator[tuple[GraphQL, str, Path, str]]:
    """``upload_gql`` with uploads hashed by each hash function ``file:checksum`` can use."""
    queue = f"test-uploads-{uuid.uuid4().hex[:8]}"
    storage = tmp_path / "assets"
    settings = app_settings(scratch_url, storage).model_copy(
        update={"workers": WorkerSettings(queues=[queue], checksum=request.param)}
    )
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    async with app_client(settings, headers) as (app, client):
        yield GraphQL(app, client), queue, storage, request.param


async def upload(gql: GraphQL, files: dict[str, Path], **variables: Any) -> dict[str, Any]:
    """Post ``UPLOAD`` as a GraphQL multipart request with ``files`` as its Upload variables."""
    operations = {"query": UPLOAD, "variables": {**variables, **dict.fromkeys(files)}}
    mapping = {str(i): [f"variables.{name}"] for i, name in enumerate(files)}
    parts = {str(i): (path.name, path.read_bytes()) for i, path in enumerate(files.values())}
    response = await gql.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
        files=parts,
    )
    return response.json()


async def test_a_naip_upload_becomes_a_searchable_item(
    upload_gql: tuple[GraphQL, str, Path], scratch_url: str
) -> None:
    gql, queue, storage = upload_gql
    await gql.data(CREATE, stac=a_collection("naip"))
    body = await upload(gql, {"file": NAIP_TIF, "sidecar": NAIP_FGDC}, collectionId="naip")
    job = body["data"]["uploadAsset"]
    assert (job["status"], job["kind"]) == ("QUEUED", "extract_item")
    assert (storage / "naip/m_3008501_ne_16_1_20110815" / NAIP_TIF.name).read_bytes() == (
        NAIP_TIF.read_bytes()
    )
    await run_worker_burst(scratch_url, storage, queue)
    done = (await gql.data(JOB, id=job["id"]))["job"]
    assert done["status"] == "FINISHED", done["error"]
    item = done["item"]
    assert item["property"] == "al"
    with rasterio.open(NAIP_TIF) as dataset:
        expected = transform_bounds(dataset.crs, "EPSG:4326", *dataset.bounds, densify_pts=21)
    assert item["bbox"] == pytest.approx(list(expected), abs=1e-6)
    assert any("data" in a["roles"] for a in item["assets"])
    found = await gql.data(
        "query($b: [Float!]) { items(bbox: $b) { nodes { id } } }", b=list(expected)
    )
    assert [n["id"] for n in found["items"]["nodes"]] == [item["id"]]


async def test_uploading_the_same_file_twice_gives_one_item(
    upload_gql: tuple[GraphQL, str, Path], scratch_url: str
) -> None:
    gql, queue, storage = upload_gql
    await gql.data(CREATE, stac=a_collection("rasters"))
    byte = RASTERS / "rasterio/byte.tif"
    for _ in range(2):
        body = await upload(gql, {"file": byte}, collectionId="rasters",
                            when="2020-05-01T00:00:00Z")
        assert body["data"]["uploadAsset"]["status"] == "QUEUED", body
    await run_worker_burst(scratch_url, storage, queue)
    found = await gql.data('{ items(collections: ["rasters"]) { nodes { id datetime } } }')
    assert found["items"]["nodes"] == [{"id": "byte", "datetime": "2020-05-01T00:00:00+00:00"}]


async def test_an_upload_over_the_limit_is_refused_and_not_kept(
    scratch_url: str, scratch_sessions, tmp_path: Path
) -> None:
    settings = app_settings(scratch_url, tmp_path / "assets")
    settings.graphql.max_upload_bytes = 1024
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    async with app_client(settings, headers) as (app, client):
        gql = GraphQL(app, client)
        await gql.data(CREATE, stac=a_collection("rasters"))
        body = await upload(gql, {"file": NAIP_TIF}, collectionId="rasters")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "1024 bytes" in body["errors"][0]["message"]
    assert not [p for p in (tmp_path / "assets").rglob("*") if p.is_file()]


async def test_a_body_past_the_door_limit_gets_413(
    scratch_url: str, scratch_sessions, tmp_path: Path
) -> None:
    settings = app_settings(scratch_url, tmp_path / "assets")
    settings.graphql.max_upload_bytes = 1024
    settings.api.max_body_bytes = 1024
    async with app_client(settings) as (_app, client):
        response = await client.post("/graphql", json={"query": "{ __typename }",
                                                       "pad": "x" * 10_000})
        small = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert small.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "name",
    ["rasterio/389225main_sw_1965_1024.jpg", "rasterio/corrupt.tif", "rasterio/RGB.byte.gcp.vrt",
     "image-tiff/malformed_open_error.tif", "rasterio/rotated.tif"],
)
async def test_files_that_are_not_georeferenced_rasters_are_refused(
    upload_gql: tuple[GraphQL, str, Path], name: str
) -> None:
    gql, _queue, storage = upload_gql
    await gql.data(CREATE, stac=a_collection("rasters"))
    body = await upload(gql, {"file": RASTERS / name}, collectionId="rasters")
    error = body["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["reason"]) == (
        "BAD_USER_INPUT", "INVALID_RASTER"
    ), body
    assert not [p for p in storage.rglob("*") if p.is_file()]
    assert "stacql-upload-" not in error["message"] and tempfile.gettempdir() not in str(body)


async def test_with_the_queue_down_an_upload_is_refused_and_nothing_kept(
    scratch_url: str, scratch_sessions, tmp_path: Path
) -> None:
    settings = app_settings(scratch_url, tmp_path / "assets")
    settings.redis.url = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    async with app_client(settings, headers) as (app, client):
        gql = GraphQL(app, client)
        await gql.data(CREATE, stac=a_collection("rasters"))
        body = await upload(gql, {"file": RASTERS / "rasterio/byte.tif"}, collectionId="rasters",
                            when="2020-05-01T00:00:00Z")
        jobs = await gql.client.post("/graphql", json={"query": "{ __typename }"})
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
    assert "could not be queued" in body["errors"][0]["message"]
    assert jobs.status_code == 200
    assert not [p for p in (tmp_path / "assets").rglob("*") if p.is_file()]


INGEST = """mutation($href: String!) { ingestCatalog(href: $href) { id status kind } }"""


async def test_ingest_catalog_loads_a_catalog_through_a_worker(
    scratch_url: str, scratch_sessions, tmp_path: Path
) -> None:
    planet = STAC_DATA / "stactools/planet-disaster"
    queue = f"test-ingest-{uuid.uuid4().hex[:8]}"
    settings = app_settings(scratch_url, tmp_path / "assets").model_copy(
        update={"workers": WorkerSettings(queues=[queue])}
    )
    settings.fetch.local_roots = [str(planet)]
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    async with app_client(settings, headers) as (app, client):
        gql = GraphQL(app, client)
        outside = await gql.post(INGEST, href=str(STAC_DATA / "pystac"))
        assert outside["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        job = (await gql.data(INGEST, href=f"file://{planet}/collection.json"))["ingestCatalog"]
        assert (job["status"], job["kind"]) == ("QUEUED", "ingest_catalog")
        await run_worker_burst(scratch_url, tmp_path / "assets", queue)
        done = (await gql.data("query($i: ID!) { job(id: $i) { status error } }",
                               i=job["id"]))["job"]
        assert done["status"] == "FINISHED", done
        found = await gql.data('{ items(collections: ["planet-disaster-data"]) { totalCount } }')
    async with scratch_sessions() as session:
        from sqlalchemy import text

        stored = (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()
    assert found["items"]["totalCount"] == stored > 0


async def test_a_sidecar_that_is_not_a_text_record_is_refused_and_nothing_kept(
    upload_gql: tuple[GraphQL, str, Path],
) -> None:
    gql, _queue, storage = upload_gql
    await gql.data(CREATE, stac=a_collection("naip"))
    # A raster smuggled in as a sidecar, to be named later as an item's data asset.
    body = await upload(gql, {"file": NAIP_TIF, "sidecar": RASTERS / "rasterio/byte.tif"},
                        collectionId="naip")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "text metadata record" in error["message"]
    assert not [p for p in storage.rglob("*") if p.is_file()]


async def test_an_upload_the_worker_refuses_leaves_nothing_in_the_store(
    upload_gql: tuple[GraphQL, str, Path], scratch_url: str
) -> None:
    gql, queue, storage = upload_gql
    await gql.data(CREATE, stac=a_collection("rasters"))
    # The upload passes its checks; the worker refuses it (the generic processor of
    # this collection reads no metadata record).
    body = await upload(gql, {"file": RASTERS / "rasterio/byte.tif",
                              "sidecar": NAIP_FGDC}, collectionId="rasters")
    job = body["data"]["uploadAsset"]
    assert [p for p in storage.rglob("*") if p.is_file()]
    await run_worker_burst(scratch_url, storage, queue)
    done = (await gql.data(JOB, id=job["id"]))["job"]
    assert done["status"] == "FAILED" and "INVALID_METADATA" in done["error"], done
    assert not [p for p in storage.rglob("*") if p.is_file()]


UPLOAD_AS = """mutation($file: Upload!, $collectionId: String!, $when: DateTime,
                   $assetKey: String!, $roles: [String!]) {
  uploadAsset(file: $file, collectionId: $collectionId, datetime: $when,
              assetKey: $assetKey, roles: $roles) { id } }"""


async def test_upload_asset_key_and_roles_reach_the_item(
    upload_gql: tuple[GraphQL, str, Path], scratch_url: str
) -> None:
    gql, queue, storage = upload_gql
    await gql.data(CREATE, stac=a_collection("rasters"))
    byte = RASTERS / "rasterio/byte.tif"
    operations = {"query": UPLOAD_AS, "variables": {
        "file": None, "collectionId": "rasters", "when": "2020-05-01T00:00:00Z",
        "assetKey": "visual", "roles": ["visual", "overview"]}}
    response = await gql.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (byte.name, byte.read_bytes())},
    )
    job_id = response.json()["data"]["uploadAsset"]["id"]
    await run_worker_burst(scratch_url, storage, queue)
    done = (await gql.data(JOB, id=job_id))["job"]
    assert done["status"] == "FINISHED", done["error"]
    assets = {a["key"]: a["roles"] for a in done["item"]["assets"]}
    assert assets["visual"] == ["visual", "overview"]
    assert "data" not in assets


UPLOAD_INTO = """mutation($file: Upload!, $collectionId: String!, $itemId: String,
                     $replace: Boolean!, $when: DateTime) {
  uploadAsset(file: $file, collectionId: $collectionId, itemId: $itemId, datetime: $when,
              replaceItem: $replace) { id } }"""
ITEM_ASSETS = """query($id: String!) { item(collectionId: "rasters", id: $id) {
  property(name: "title") assets { key href } } }"""


def _ingested_item(item_id: str) -> dict[str, Any]:
    """An item as another catalog published it: https assets and its own title."""
    item = an_item(item_id, -85.9, "2011-08-15T00:00:00Z", 0.0, collection="rasters")
    item["properties"]["title"] = "a COG from elsewhere"
    item["assets"] = {
        "tiles": {"href": "https://tiles.example.com/naip.tif", "roles": ["data"]},
        "preview": {"href": "https://tiles.example.com/naip.png", "roles": ["overview"]},
    }
    return item


async def _upload_into(gql: GraphQL, item_id: str, replace: bool) -> str:
    byte = RASTERS / "rasterio/byte.tif"
    operations = {"query": UPLOAD_INTO, "variables": {
        "file": None, "collectionId": "rasters", "itemId": item_id, "replace": replace,
        "when": "2011-08-15T00:00:00Z"}}
    response = await gql.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (byte.name, byte.read_bytes())},
    )
    return response.json()["data"]["uploadAsset"]["id"]


@pytest.mark.parametrize(
    ("replace", "action", "kept"),
    [(False, "asset_added", {"tiles", "preview"}), (True, "replaced", set())],
)
async def test_an_upload_into_an_existing_item_adds_its_asset_unless_told_to_replace(
    upload_gql: tuple[GraphQL, str, Path], scratch_url: str, replace: bool, action: str,
    kept: set[str],
) -> None:
    gql, queue, storage = upload_gql
    await gql.data(CREATE, stac=a_collection("rasters"))
    await gql.data(UPSERT, items=[_ingested_item("tile")])
    job_id = await _upload_into(gql, "tile", replace)
    await run_worker_burst(scratch_url, storage, queue)
    done = (await gql.data(JOB, id=job_id))["job"]
    assert done["status"] == "FINISHED", done["error"]
    assert done["result"]["action"] == action
    item = (await gql.data(ITEM_ASSETS, id="tile"))["item"]
    hrefs = {a["key"]: a["href"] for a in item["assets"]}
    assert {"tiles", "preview"} & set(hrefs) == kept
    assert hrefs["data"].startswith("http://") and "file:" not in hrefs["data"]
    assert (item["property"] == "a COG from elsewhere") is not replace


def _multihash(data: bytes, algorithm: str) -> str:
    """hashlib's SHA-256 or the blake3 package's digest, with its multihash header."""
    if algorithm == "blake3":
        return "1e20" + blake3.blake3(data).hexdigest()
    return "1220" + hashlib.sha256(data).hexdigest()


async def test_an_uploads_checksum_is_hashed_as_it_is_received(
    checksum_gql: tuple[GraphQL, str, Path, str], scratch_url: str, scratch_sessions
) -> None:
    gql, queue, storage, algorithm = checksum_gql
    await gql.data(CREATE, stac=a_collection("rasters"))
    byte = RASTERS / "rasterio/byte.tif"
    body = await upload(gql, {"file": byte}, collectionId="rasters", when="2020-05-01T00:00:00Z")
    job_id = body["data"]["uploadAsset"]["id"]
    expected = _multihash(byte.read_bytes(), algorithm)
    async with scratch_sessions() as session:
        params = (await session.execute(
            text("SELECT params FROM jobs WHERE id = :id"), {"id": job_id}
        )).scalar_one()
    # Hashed by the API as the file came in: the job carries it, the worker reads no more.
    assert (params["file_checksum"], params["file_size"]) == (expected, byte.stat().st_size)
    await run_worker_burst(scratch_url, storage, queue, STACQL_WORKERS_CHECKSUM=algorithm)
    async with scratch_sessions() as session:
        item = await get_item(session, "rasters", "byte")
    original = item["assets"]["original"]  # the upload, kept beside its COG
    assert original["file:checksum"] == expected
    assert original["file:size"] == byte.stat().st_size
    cog = storage / "rasters/byte" / PurePosixPath(item["assets"]["data"]["href"]).name
    assert item["assets"]["data"]["file:checksum"] == _multihash(cog.read_bytes(), algorithm)
