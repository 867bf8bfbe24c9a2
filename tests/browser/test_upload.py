"""The upload page: GeoTIFFs (and an FGDC sidecar) dropped into a collection go through
``uploadAsset``; each file's progress follows its job over the ``job`` subscription while a
real ``stacql worker`` builds the item, which then opens and is found by a search."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Request, expect

from tests.browser.conftest import PHONE, OpenPage, graphql, settled
from tests.graphql_api.conftest import TEST_REDIS_URL, admin_key
from tests.graphql_api.test_mutations import CREATE, a_collection
from tests.graphql_api.test_uploads import NAIP_FGDC, NAIP_TIF, run_worker_burst
from tests.support.live_server import live_server
from tests.support.paths import DATA, RASTERS

NO_DATETIME_TIF = RASTERS / "rasterio/byte.tif"  # no FGDC record: NAIP refuses it
JOB = "query($id: ID!) { job(id: $id) { item { id } } }"


@pytest.fixture
async def write_key(scratch_sessions) -> str:
    """A real write key on the scratch catalog (emptied before each test)."""
    return await admin_key(scratch_sessions)


@pytest.fixture
def upload_server(
    scratch_url: str, scratch_sessions, browser_build: Path, tmp_path: Path
) -> Iterator[tuple[str, str, Path]]:
    """A live server on an empty catalog with its own RQ queue and storage folder:
    (base URL, queue, storage)."""
    queue = f"test-browser-{uuid.uuid4().hex[:8]}"
    storage = tmp_path / "assets"
    env = {
        "STACQL_REDIS_URL": TEST_REDIS_URL,
        "STACQL_WORKERS_QUEUES": json.dumps([queue]),
        "STACQL_STORAGE_URL": str(storage),
    }
    with live_server(scratch_url, env=env) as url:
        yield url, queue, storage


async def test_uploaded_rasters_become_items_and_rejects_are_explained(
    upload_server: tuple[str, str, Path], scratch_url: str, open_page: OpenPage, tmp_path: Path,
    write_key: str,
) -> None:
    key = write_key
    base_url, queue, storage = upload_server
    await graphql(base_url, CREATE, key=key, stac=a_collection("naip"))
    not_a_tiff = tmp_path / "scene.tif"
    not_a_tiff.write_text("this is not a raster")
    tab = await open_page(base_url)
    page = tab.page
    uploads: list[Request] = []
    page.on("request", lambda r: uploads.append(r) if "multipart" in (
        r.headers.get("content-type") or "") else None)
    await tab.goto("#/upload")
    await page.get_by_label("Collection").select_option("naip")
    await page.get_by_label("Write key (optional, kept in this browser)").fill(key)
    await page.get_by_label("Write key (optional, kept in this browser)").press("Tab")
    await page.locator("#upload-files").set_input_files(
        [NAIP_TIF, NAIP_FGDC, NO_DATETIME_TIF, not_a_tiff, DATA / "SOURCES.md"])

    rejected = page.locator("li.error[data-rejected]")
    await expect(rejected).to_have_count(2)
    await expect(rejected.filter(has_text="scene.tif")).to_contain_text("not a TIFF")
    await expect(rejected.filter(has_text="SOURCES.md")).to_contain_text("not a GeoTIFF")
    naip = page.locator(f'li.upload[data-file="{NAIP_TIF.name}"]')
    undated = page.locator(f'li.upload[data-file="{NO_DATETIME_TIF.name}"]')
    await expect(naip).to_contain_text(NAIP_FGDC.name)  # sent with its sidecar
    await expect(naip).to_have_attribute("data-status", "QUEUED")
    await expect(undated).to_have_attribute("data-status", "QUEUED")
    assert len(uploads) == 2
    for request in uploads:
        headers = await request.all_headers()
        assert headers["authorization"] == f"Bearer {key}"
        assert headers["x-api-key"] == key

    await run_worker_burst(scratch_url, storage, queue)
    await expect(naip).to_have_attribute("data-status", "FINISHED", timeout=20_000)
    await expect(undated).to_have_attribute("data-status", "FAILED", timeout=20_000)
    await expect(undated.get_by_role("alert")).to_contain_text("needs the scene's FGDC")
    assert await naip.locator("progress").evaluate("bar => bar.value") == 1
    await tab.screenshot("desktop-upload")

    job_id = await naip.get_attribute("data-job")
    job = (await graphql(base_url, JOB, id=job_id))["job"]
    item_id = job["item"]["id"]
    await naip.get_by_role("link", name=f"Open item {item_id}").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(item_id)
    await expect(page.locator("table.properties")).to_contain_text("naip:state")

    await page.get_by_role("link", name="Search", exact=True).click()
    await page.locator("input[name=collection][value=naip]").check()
    await settled(page)
    await expect(page.locator("li.result")).to_have_count(1)
    await expect(page.locator("li.result")).to_have_attribute("data-item-id", item_id)
    found = await graphql(base_url, '{ items(collections: ["naip"]) { nodes { id } } }')
    assert found["items"]["nodes"] == [{"id": item_id}]
    assert await page.evaluate("localStorage.getItem('stacql.apiKey')") == key


async def test_the_upload_page_fits_a_phone_and_explains_a_dropped_file(
    catalog_server: str, open_page: OpenPage
) -> None:
    tab = await open_page(catalog_server, PHONE)
    page = tab.page
    await tab.goto("#/upload")
    await page.get_by_label("Collection").select_option("naip")
    await page.locator(".drop-zone").evaluate("""zone => {
        const files = new DataTransfer();
        files.items.add(new File(["notes"], "notes.pdf", {type: "application/pdf"}));
        files.items.add(new File(["fgdc"], "lonely.txt", {type: "text/plain"}));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: files, bubbles: true}));
    }""")
    rejected = page.locator("li.error[data-rejected]")
    await expect(rejected).to_have_count(2)
    await expect(rejected.filter(has_text="lonely.txt")).to_contain_text("needs its GeoTIFF")
    await expect(page.locator("li.upload")).to_have_count(0)
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    await tab.screenshot("phone-upload")
