"""Imagery in the browser: thumbnails in the result list, an opened item's raster under its
footprint, and the search as a mosaic layer that follows the search, over real COGs in
the store of a live server; every request stays on that server.

Items are created through the STAC Transactions API with hrefs of the store (their
projection given, so no extraction job runs); their statistics and thumbnails are made
here with rasterio from the same files.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
from playwright.async_api import Locator, Page, expect
from rasterio.io import MemoryFile
from rasterio.warp import transform_bounds

from catalog.access import create_key, set_private
from catalog.db import create_engine, create_sessionmaker
from catalog.storage import LocalAssetStore
from tests.browser.conftest import BrowserPage, OpenPage, settled
from tests.support.access import admin_key
from tests.support.databases import create_migrated_database, drop_database
from tests.support.live_server import live_server
from tests.support.paths import RASTERS
from tests.workers.conftest import TEST_REDIS_URL

# The PNGs made and decoded here carry no georeferencing, as PNGs do.
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

COLLECTION = "scenes"
# Two rasters far apart: a 1-band uint16 COG over Greenland (UTM 21N) and a 3-band uint8
# Landsat GeoTIFF over the Bahamas (UTM 18N, nodata around the scene). BARE has no asset
# at all; GONE names a raster of the store that is not there.
RASTER_ITEMS = {
    "greenland": (RASTERS / "rio-tiler/cog.tif", "2021-06-01T00:00:00Z"),
    "bahamas": (RASTERS / "rasterio/RGB.byte.tif", "2020-06-01T00:00:00Z"),
}
# A private collection: its item, a copy of "bahamas", is readable with a key only.
VAULT, SECRET = "vault", "secret"
BARE = ("bare", [-100.0, 45.0, -99.0, 46.0], "2019-06-01T00:00:00Z")
GONE = ("gone", [-90.0, 45.0, -89.0, 46.0], "2018-06-01T00:00:00Z")
THUMBNAIL_SIZE = 128


def _decimated(path: Path, size: int = 512) -> np.ma.MaskedArray:
    """The raster read at about ``size`` pixels across (from its overviews)."""
    with rasterio.open(path) as src:
        scale = max(src.width, src.height) / size
        shape = (src.count, round(src.height / scale), round(src.width / scale))
        return src.read(out_shape=shape, masked=True)


def _thumbnail(path: Path) -> bytes:
    """A PNG of the raster's first three bands (or its one band), stretched to 0-255."""
    data = _decimated(path, THUMBNAIL_SIZE)[:3].astype("float64")
    low, high = float(data.min()), float(data.max())
    pixels = ((data.filled(low) - low) / (high - low) * 255).astype("uint8")
    profile = {"driver": "PNG", "count": pixels.shape[0], "height": pixels.shape[1],
               "width": pixels.shape[2], "dtype": "uint8"}
    with MemoryFile() as file:
        with file.open(**profile) as png:
            png.write(pixels)
        return file.read()


def _raster_item(
    item_id: str, path: Path, when: str, store: LocalAssetStore, collection: str = COLLECTION
) -> dict[str, Any]:
    with rasterio.open(path) as src:
        bbox = list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
        code = f"EPSG:{src.crs.to_epsg()}"
    data = _decimated(path)
    bands = [{"statistics": {"minimum": float(band.min()), "maximum": float(band.max())}}
             for band in data]
    item = _feature(item_id, bbox, when, collection)
    item["assets"] = {
        "data": {"href": store.href(f"{COLLECTION}/{path.name}"), "roles": ["data"],
                 "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                 "proj:code": code, "raster:bands": bands},
        "thumbnail": {"href": store.href(f"{COLLECTION}/{item_id}.png"), "roles": ["thumbnail"],
                      "type": "image/png"},
    }
    return item


def _feature(
    item_id: str, bbox: list[float], when: str, collection: str = COLLECTION
) -> dict[str, Any]:
    west, south, east, north = bbox
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Feature", "stac_version": "1.1.0", "id": item_id, "collection": collection,
            "geometry": {"type": "Polygon", "coordinates": [ring]}, "bbox": bbox,
            "properties": {"datetime": when}, "links": [], "assets": {}}


async def _store_rasters(store: LocalAssetStore) -> list[dict[str, Any]]:
    """The rasters and their thumbnails put in ``store``; the items naming them, BARE, GONE
    and the private SECRET."""
    items = []
    for item_id, (path, when) in RASTER_ITEMS.items():
        await store.put(f"{COLLECTION}/{path.name}", path.read_bytes())
        await store.put(f"{COLLECTION}/{item_id}.png", _thumbnail(path))
        items.append(_raster_item(item_id, path, when, store))
    path, when = RASTER_ITEMS["bahamas"]
    await store.put(f"{COLLECTION}/{SECRET}.png", _thumbnail(path))
    items.append(_raster_item(SECRET, path, when, store, VAULT))
    gone = _feature(*GONE)
    gone["assets"] = {"data": {"href": store.href(f"{COLLECTION}/gone.tif"), "roles": ["data"],
                               "type": "image/tiff; application=geotiff", "proj:code": "EPSG:4326"}}
    return [*items, _feature(*BARE), gone]


async def _post_catalog(base_url: str, key: str, items: list[dict[str, Any]]) -> None:
    """The collections of ``items`` and the items through the STAC Transactions API."""
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        for collection_id in sorted({item["collection"] for item in items}):
            collection = {"type": "Collection", "stac_version": "1.1.0", "id": collection_id,
                          "description": collection_id, "license": "other", "links": [],
                          "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                                     "temporal": {"interval": [[None, None]]}}}
            assert (await client.post("collections", json=collection)).status_code == 201
        for item in items:
            response = await client.post(f"collections/{item['collection']}/items", json=item)
            assert response.status_code == 201, response.text


@dataclass(frozen=True)
class Served:
    """The live server's base URL, and the token of a key that may read VAULT."""

    url: str
    vault_reader: str


async def _admin_key(database: str) -> str:
    engine = create_engine(database)
    try:
        return await admin_key(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _private_reader(database: str, collection_id: str) -> str:
    """Make a collection private; the token of a new key that may read it."""
    engine = create_engine(database)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await set_private(session, collection_id, True)
            return (await create_key(session, f"{collection_id}-reader", "read", collection_id))[1]
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def imagery_server(
    browser_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    """A live server on a database of its own whose catalog holds RASTER_ITEMS (rasters
    in its store), BARE, GONE and the private SECRET; the tests only read it."""
    store = LocalAssetStore(tmp_path_factory.mktemp("imagery") / "assets")
    items = await _store_rasters(store)
    database = create_migrated_database("imagery")
    try:
        admin = await _admin_key(database)
        env = {"STACQL_STORAGE_URL": str(store.root), "STACQL_REDIS_URL": TEST_REDIS_URL}
        with live_server(database, env=env) as url:
            await _post_catalog(url, admin, items)
            yield Served(url, await _private_reader(database, VAULT))
    finally:
        drop_database(database)


def _pixels(png: bytes) -> np.ndarray:
    """A screenshot as (height, width, RGB) values."""
    with MemoryFile(png) as file, file.open() as image:
        return np.moveaxis(image.read()[:3], 0, -1).astype("int16")


async def _inner_box(shape: Locator) -> dict[str, float]:
    """The middle third of ``shape``'s box on screen, where its raster surely has data."""
    box = await shape.bounding_box()
    assert box is not None
    return {"x": box["x"] + box["width"] / 3, "y": box["y"] + box["height"] / 3,
            "width": box["width"] / 3, "height": box["height"] / 3}


async def _with_and_without(
    page: Page, layer: str, region: dict[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Screenshots of ``region`` with the tile layer ``layer`` and with it hidden (the
    basemap and footprints alone)."""
    shown = _pixels(await page.screenshot(clip=region))
    await page.locator(layer).evaluate("layer => { layer.style.visibility = 'hidden'; }")
    hidden = _pixels(await page.screenshot(clip=region))
    await page.locator(layer).evaluate("layer => { layer.style.visibility = ''; }")
    return shown, hidden


def assert_imagery(shown: np.ndarray, hidden: np.ndarray) -> None:
    """The region shows a picture: most pixels differ from the map without imagery, and
    they vary (a blank or single-colour tile would not)."""
    changed = np.abs(shown - hidden).max(axis=-1) > 8
    assert changed.mean() > 0.9, f"only {changed.mean():.0%} of the pixels show imagery"
    assert shown.std(axis=(0, 1)).max() > 10, "the imagery is flat"
    assert hidden.std(axis=(0, 1)).max() < shown.std(axis=(0, 1)).max()


async def _tiles_loaded(page: Page, layer: str) -> int:
    """Wait until every tile image of ``layer`` has loaded; how many there are."""
    tiles = page.locator(f"{layer} img.leaflet-tile")
    await expect(tiles.first).to_be_attached()
    loading = page.locator(f"{layer} img.leaflet-tile:not(.leaflet-tile-loaded)")
    await expect(loading).to_have_count(0)
    return await tiles.evaluate_all(
        "images => images.filter(i => i.complete && i.naturalWidth === 256).length")


def assert_stayed_home(tab: BrowserPage) -> None:
    assert tab.foreign_requests == [], f"requests outside the server: {tab.foreign_requests}"
    assert tab.errors == [], tab.errors


async def _search_collection(tab: BrowserPage, collection_id: str, count: int) -> Page:
    """The search page listing the ``count`` items of one collection."""
    page = tab.page
    await tab.goto()
    await page.locator(f"input[name=collection][value={collection_id}]").check()
    await settled(page)
    await expect(page.locator("li.result")).to_have_count(count)
    return page


async def test_results_show_the_stored_thumbnails(
    imagery_server: Served, open_page: OpenPage
) -> None:
    tab = await open_page(imagery_server.url)
    page = await _search_collection(tab, COLLECTION, 4)
    for item_id in RASTER_ITEMS:
        image = page.locator(f'li.result[data-item-id="{item_id}"] img.thumb')
        await expect(image).to_have_attribute("alt", f"Thumbnail of {item_id}")
        await expect(image).to_have_attribute("loading", "lazy")
        await expect(image).to_have_js_property("complete", True)
        height, width, _ = _pixels(_thumbnail(RASTER_ITEMS[item_id][0])).shape
        assert await image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [width, height]
        assert await image.get_attribute("src") == (
            f"{imagery_server.url}collections/{COLLECTION}/items/{item_id}/assets/thumbnail")
    for item_id in (BARE[0], GONE[0]):
        row = page.locator(f'li.result[data-item-id="{item_id}"]')
        await expect(row.locator("img")).to_have_count(0)
        await expect(row.locator(".thumb.none")).to_have_text("no preview")
    assert_stayed_home(tab)


async def _with_key(tab: BrowserPage, key: str) -> None:
    """Keep ``key`` in the browser, as the upload page does when one is typed there."""
    await tab.page.add_init_script(f"localStorage.setItem('stacql.apiKey', {json.dumps(key)})")


async def _open_item(
    base_url: str, open_page: OpenPage, item_id: str, collection_id: str = COLLECTION,
    key: str | None = None,
) -> tuple[BrowserPage, list[str]]:
    """The page of one item, opened (with ``key`` kept in the browser); the TileJSON URLs
    it asks for (so far and later)."""
    tab = await open_page(base_url)
    if key:
        await _with_key(tab, key)
    asked: list[str] = []
    tab.page.on("request", lambda r: asked.append(r.url) if "tilejson" in r.url else None)
    await tab.goto(f"#/item/{collection_id}/{item_id}")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text(item_id)
    return tab, asked


def _tilejson_url(base_url: str, item_id: str, collection_id: str = COLLECTION) -> str:
    return f"{base_url}collections/{collection_id}/items/{item_id}/tilejson.json"


async def test_an_opened_item_shows_its_raster_under_its_footprint(
    imagery_server: Served, open_page: OpenPage
) -> None:
    tab, tilejson = await _open_item(imagery_server.url, open_page, "greenland")
    page = tab.page
    map_element = page.locator(".item-map")
    await expect(map_element).to_have_attribute("data-imagery", "loaded")
    assert await _tiles_loaded(page, ".item-imagery") > 0
    footprint = map_element.locator('path[stroke="#d6336c"]')
    await expect(footprint).to_have_attribute("fill-opacity", "0")  # an outline over the picture
    shown, hidden = await _with_and_without(page, ".item-imagery", await _inner_box(footprint))
    assert_imagery(shown, hidden)
    await tab.screenshot("desktop-item-imagery")
    assert tilejson == [_tilejson_url(imagery_server.url, "greenland")]
    assert_stayed_home(tab)


async def test_an_item_without_a_stored_raster_asks_for_no_tiles(
    imagery_server: Served, open_page: OpenPage
) -> None:
    tab, tilejson = await _open_item(imagery_server.url, open_page, BARE[0])
    await expect(tab.page.locator('.item-map path[stroke="#d6336c"]')).to_have_count(1)
    await expect(tab.page.locator(".item-imagery")).to_have_count(0)
    assert tilejson == []
    assert_stayed_home(tab)


async def test_an_item_whose_raster_is_gone_shows_its_footprint_alone(
    imagery_server: Served, open_page: OpenPage
) -> None:
    tab, tilejson = await _open_item(imagery_server.url, open_page, GONE[0])
    map_element = tab.page.locator(".item-map")
    await expect(map_element).to_have_attribute("data-imagery", "none")
    footprint = map_element.locator('path[stroke="#d6336c"]')
    await expect(footprint).to_have_attribute("fill-opacity", "0.3")
    await expect(tab.page.locator(".item-imagery")).to_have_count(0)
    assert tilejson == [_tilejson_url(imagery_server.url, GONE[0])]
    # Chromium logs the TileJSON's 404 itself; the page adds no error of its own.
    assert tab.errors == [f"Failed to load resource: the server responded with a status of "
                          f"404 (Not Found) at {tilejson[0]}"]
    tab.errors.clear()
    assert_stayed_home(tab)


async def _tile_sources(page: Page, layer: str) -> list[str]:
    return await page.locator(f"{layer} img.leaflet-tile").evaluate_all(
        "images => images.map(i => i.src)")


async def _refused_without_grant(url: str) -> bool:
    """Whether ``url`` without its query (the grant) is refused."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url.split("?")[0])
    return response.status_code == 404 and response.headers["content-type"] == "application/json"


async def test_a_private_item_shows_its_imagery_with_the_key_kept_in_the_browser(
    imagery_server: Served, open_page: OpenPage
) -> None:
    tab, tilejson = await _open_item(
        imagery_server.url, open_page, SECRET, VAULT, key=imagery_server.vault_reader)
    page = tab.page
    await expect(page.locator(".item-map")).to_have_attribute("data-imagery", "loaded")
    assert await _tiles_loaded(page, ".item-imagery") > 0
    sources = await _tile_sources(page, ".item-imagery")
    assert all("?token=" in src for src in sources), sources
    assert await _refused_without_grant(sources[0])
    preview = page.locator("img.preview")  # the thumbnail asset, through its signed href
    await expect(preview).to_have_js_property("complete", True)
    assert await preview.evaluate("i => i.naturalWidth") > 0
    assert await _refused_without_grant(await preview.get_attribute("src") or "")
    assert tilejson == [_tilejson_url(imagery_server.url, SECRET, VAULT)]
    assert_stayed_home(tab)


async def test_a_private_search_shows_its_mosaic_with_the_key_kept_in_the_browser(
    imagery_server: Served, open_page: OpenPage
) -> None:
    tab = await open_page(imagery_server.url)
    await _with_key(tab, imagery_server.vault_reader)
    page = await _search_collection(tab, VAULT, 1)
    toggle = page.get_by_label("Show the imagery of all matches on the map")
    mosaic = await _mosaic_registered(page, toggle.check)
    assert mosaic["search"] == {"collections": [VAULT]}
    footprint = await _show_item(page, SECRET)
    await expect(page.locator("#search-map")).to_have_attribute("data-mosaic", "loaded")
    assert await _tiles_loaded(page, ".mosaic-imagery") > 0
    sources = await _tile_sources(page, ".mosaic-imagery")
    assert all(f"/mosaics/{mosaic['id']}/tiles/" in s and "?token=" in s for s in sources)
    assert_imagery(*await _with_and_without(page, ".mosaic-imagery", await _inner_box(footprint)))
    assert_stayed_home(tab)


async def _mosaic_registered(page: Page, action) -> dict[str, Any]:
    """Run ``action``; the document of the ``POST /mosaics`` it makes the page send."""
    async with page.expect_response(
        lambda r: r.url.endswith("/mosaics") and r.request.method == "POST"
    ) as answer:
        await action()
    response = await answer.value
    assert response.status == 201
    return await response.json()


async def _stac_ids(base_url: str, search: dict[str, Any]) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.post("search", json={**search, "limit": 100})
    return sorted(feature["id"] for feature in response.json()["features"])


async def _listed_ids(page: Page) -> list[str]:
    return sorted(await page.locator("li.result").evaluate_all(
        "rows => rows.map(row => row.dataset.itemId)"))


async def _show_item(page: Page, item_id: str) -> Locator:
    """Fit the map to a listed item; its footprint on the map."""
    await page.get_by_role("button", name=f"Show {item_id} on the map").click()
    return page.locator('#search-map path[stroke="#d6336c"]')


async def test_the_search_mosaic_follows_the_search(
    imagery_server: Served, open_page: OpenPage
) -> None:
    tab = await open_page(imagery_server.url)
    page = await _search_collection(tab, COLLECTION, 4)
    map_element = page.locator("#search-map")
    toggle = page.get_by_label("Show the imagery of all matches on the map")

    mosaic = await _mosaic_registered(page, toggle.check)
    assert mosaic["search"] == {"collections": [COLLECTION]}
    assert await _stac_ids(imagery_server.url, mosaic["search"]) == await _listed_ids(page)
    footprint = await _show_item(page, "greenland")
    await expect(map_element).to_have_attribute("data-mosaic", "loaded")
    assert await _tiles_loaded(page, ".mosaic-imagery") > 0
    assert_imagery(*await _with_and_without(page, ".mosaic-imagery", await _inner_box(footprint)))
    await tab.screenshot("desktop-search-mosaic")

    async def search_2020() -> None:
        await page.get_by_label("From").fill("2020-01-01")
        await page.get_by_label("To").fill("2020-12-31")
        await page.get_by_role("button", name="Search", exact=True).click()

    followed = await _mosaic_registered(page, search_2020)
    await settled(page)
    assert followed["id"] != mosaic["id"]
    assert followed["search"]["datetime"] == "2020-01-01T00:00:00Z/2020-12-31T23:59:59.999Z"
    listed = await _listed_ids(page)
    assert listed == ["bahamas"]
    assert await _stac_ids(imagery_server.url, followed["search"]) == listed
    footprint = await _show_item(page, "bahamas")
    await expect(map_element).to_have_attribute("data-mosaic", "loaded")
    assert await _tiles_loaded(page, ".mosaic-imagery") > 0
    sources = await page.locator(".mosaic-imagery img.leaflet-tile").evaluate_all(
        "images => images.map(i => i.src)")
    assert all(f"/mosaics/{followed['id']}/tiles/" in src for src in sources), sources
    assert_imagery(*await _with_and_without(page, ".mosaic-imagery", await _inner_box(footprint)))

    await toggle.uncheck()
    await expect(map_element).to_have_attribute("data-mosaic", "off")
    await expect(page.locator(".mosaic-imagery")).to_have_count(0)
    assert_stayed_home(tab)

