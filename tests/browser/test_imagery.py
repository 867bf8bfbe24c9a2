"""Imagery in the browser: thumbnails in the result list, an opened item's raster under its
footprint, and the search as a mosaic layer that follows the search, over real COGs in
the store of a live server; every request stays on that server.

Items are created through the STAC Transactions API with hrefs of the store (their
projection given, so no extraction job runs); their statistics and thumbnails are made
here with rasterio from the same files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
from playwright.async_api import Locator, Page, expect
from rasterio.io import MemoryFile
from rasterio.warp import transform_bounds

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


def _raster_item(item_id: str, path: Path, when: str, store: LocalAssetStore) -> dict[str, Any]:
    with rasterio.open(path) as src:
        bbox = list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
        code = f"EPSG:{src.crs.to_epsg()}"
    data = _decimated(path)
    bands = [{"statistics": {"minimum": float(band.min()), "maximum": float(band.max())}}
             for band in data]
    item = _feature(item_id, bbox, when)
    item["assets"] = {
        "data": {"href": store.href(f"{COLLECTION}/{path.name}"), "roles": ["data"],
                 "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                 "proj:code": code, "raster:bands": bands},
        "thumbnail": {"href": store.href(f"{COLLECTION}/{item_id}.png"), "roles": ["thumbnail"],
                      "type": "image/png"},
    }
    return item


def _feature(item_id: str, bbox: list[float], when: str) -> dict[str, Any]:
    west, south, east, north = bbox
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Feature", "stac_version": "1.1.0", "id": item_id, "collection": COLLECTION,
            "geometry": {"type": "Polygon", "coordinates": [ring]}, "bbox": bbox,
            "properties": {"datetime": when}, "links": [], "assets": {}}


async def _store_rasters(store: LocalAssetStore) -> list[dict[str, Any]]:
    """The COGs and their thumbnails put in ``store``; the items naming them, and BARE."""
    items = []
    for item_id, (path, when) in RASTER_ITEMS.items():
        await store.put(f"{COLLECTION}/{path.name}", path.read_bytes())
        await store.put(f"{COLLECTION}/{item_id}.png", _thumbnail(path))
        items.append(_raster_item(item_id, path, when, store))
    gone = _feature(*GONE)
    gone["assets"] = {"data": {"href": store.href(f"{COLLECTION}/gone.tif"), "roles": ["data"],
                               "type": "image/tiff; application=geotiff", "proj:code": "EPSG:4326"}}
    return [*items, _feature(*BARE), gone]


async def _post_catalog(base_url: str, key: str, items: list[dict[str, Any]]) -> None:
    """The collection and ``items`` through the STAC Transactions API."""
    collection = {"type": "Collection", "stac_version": "1.1.0", "id": COLLECTION,
                  "description": "Scenes", "license": "other", "links": [],
                  "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                             "temporal": {"interval": [[None, None]]}}}
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        assert (await client.post("collections", json=collection)).status_code == 201
        for item in items:
            response = await client.post(f"collections/{COLLECTION}/items", json=item)
            assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
async def imagery_server(
    browser_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A live server on a database of its own whose catalog holds RASTER_ITEMS (rasters
    in its store), BARE and GONE; the tests only read it."""
    store = LocalAssetStore(tmp_path_factory.mktemp("imagery") / "assets")
    items = await _store_rasters(store)
    database = create_migrated_database("imagery")
    try:
        engine = create_engine(database)
        key = await admin_key(create_sessionmaker(engine))
        await engine.dispose()
        env = {"STACQL_STORAGE_URL": str(store.root), "STACQL_REDIS_URL": TEST_REDIS_URL}
        with live_server(database, env=env) as url:
            await _post_catalog(url, key, items)
            yield url
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


async def _search_scenes(tab: BrowserPage) -> Page:
    page = tab.page
    await tab.goto()
    await page.locator(f"input[name=collection][value={COLLECTION}]").check()
    await settled(page)
    await expect(page.locator("li.result")).to_have_count(4)
    return page


async def test_results_show_the_stored_thumbnails(imagery_server: str, open_page: OpenPage) -> None:
    tab = await open_page(imagery_server)
    page = await _search_scenes(tab)
    for item_id in RASTER_ITEMS:
        image = page.locator(f'li.result[data-item-id="{item_id}"] img.thumb')
        await expect(image).to_have_attribute("alt", f"Thumbnail of {item_id}")
        await expect(image).to_have_attribute("loading", "lazy")
        await expect(image).to_have_js_property("complete", True)
        height, width, _ = _pixels(_thumbnail(RASTER_ITEMS[item_id][0])).shape
        assert await image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [width, height]
        src = await image.get_attribute("src")
        assert src == f"{imagery_server}collections/{COLLECTION}/items/{item_id}/assets/thumbnail"
    for item_id in (BARE[0], GONE[0]):
        row = page.locator(f'li.result[data-item-id="{item_id}"]')
        await expect(row.locator("img")).to_have_count(0)
        await expect(row.locator(".thumb.none")).to_have_text("no preview")
    assert_stayed_home(tab)


async def _open_item(
    base_url: str, open_page: OpenPage, item_id: str
) -> tuple[BrowserPage, list[str]]:
    """The page of one item, opened; the TileJSON URLs it asks for (so far and later)."""
    tab = await open_page(base_url)
    asked: list[str] = []
    tab.page.on("request", lambda r: asked.append(r.url) if "tilejson" in r.url else None)
    await tab.goto(f"#/item/{COLLECTION}/{item_id}")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text(item_id)
    return tab, asked


def _tilejson_url(base_url: str, item_id: str) -> str:
    return f"{base_url}collections/{COLLECTION}/items/{item_id}/tilejson.json"


async def test_an_opened_item_shows_its_raster_under_its_footprint(
    imagery_server: str, open_page: OpenPage
) -> None:
    tab, tilejson = await _open_item(imagery_server, open_page, "greenland")
    page = tab.page
    map_element = page.locator(".item-map")
    await expect(map_element).to_have_attribute("data-imagery", "loaded")
    assert await _tiles_loaded(page, ".item-imagery") > 0
    footprint = map_element.locator('path[stroke="#d6336c"]')
    await expect(footprint).to_have_attribute("fill-opacity", "0")  # an outline over the picture
    shown, hidden = await _with_and_without(page, ".item-imagery", await _inner_box(footprint))
    assert_imagery(shown, hidden)
    await tab.screenshot("desktop-item-imagery")
    assert tilejson == [_tilejson_url(imagery_server, "greenland")]
    assert_stayed_home(tab)


async def test_an_item_without_a_stored_raster_asks_for_no_tiles(
    imagery_server: str, open_page: OpenPage
) -> None:
    tab, tilejson = await _open_item(imagery_server, open_page, BARE[0])
    await expect(tab.page.locator('.item-map path[stroke="#d6336c"]')).to_have_count(1)
    await expect(tab.page.locator(".item-imagery")).to_have_count(0)
    assert tilejson == []
    assert_stayed_home(tab)


async def test_an_item_whose_raster_is_gone_shows_its_footprint_alone(
    imagery_server: str, open_page: OpenPage
) -> None:
    tab, tilejson = await _open_item(imagery_server, open_page, GONE[0])
    map_element = tab.page.locator(".item-map")
    await expect(map_element).to_have_attribute("data-imagery", "none")
    footprint = map_element.locator('path[stroke="#d6336c"]')
    await expect(footprint).to_have_attribute("fill-opacity", "0.3")
    await expect(tab.page.locator(".item-imagery")).to_have_count(0)
    assert tilejson == [_tilejson_url(imagery_server, GONE[0])]
    # Chromium logs the TileJSON's 404 itself; the page adds no error of its own.
    assert tab.errors == [f"Failed to load resource: the server responded with a status of "
                          f"404 (Not Found) at {tilejson[0]}"]
    tab.errors.clear()
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
    imagery_server: str, open_page: OpenPage
) -> None:
    tab = await open_page(imagery_server)
    page = await _search_scenes(tab)
    map_element = page.locator("#search-map")
    toggle = page.get_by_label("Show the imagery of all matches on the map")

    mosaic = await _mosaic_registered(page, toggle.check)
    assert mosaic["search"] == {"collections": [COLLECTION]}
    assert await _stac_ids(imagery_server, mosaic["search"]) == await _listed_ids(page)
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
    assert await _stac_ids(imagery_server, followed["search"]) == listed
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

