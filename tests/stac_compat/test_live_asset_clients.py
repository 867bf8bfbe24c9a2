"""Real clients read stored assets from a running ``stacql serve``: pystac-client finds the
item, rasterio (GDAL's HTTP reader) opens its href, and GDAL's ``/vsicurl/`` fetches only
the byte ranges a window needs."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import odc.stac
import pytest
import rasterio
from pystac_client import Client
from rasterio.enums import Resampling
from rasterio.windows import Window

from catalog.access import create_key, set_private
from catalog.storage import LocalAssetStore
from tests.support.access import admin_key
from tests.support.documents import post_world
from tests.support.live_server import live_server

SIZE = 4096
DOWNLOADED = re.compile(r"VSICURL: Downloading (\d+)-(\d+) ")
WINDOW = Window(1024, 2048, 256, 256)
GDAL_HTTP = {
    # A URL is a file, not a folder to list; and every byte read is a request we count.
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_USE_HEAD": "NO",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "60",  # a failure, never a hang
}


def _write_cog(path: Path) -> None:
    """A 4096 x 4096 tiled GeoTIFF with overviews, of noise (so it does not compress)."""
    data = np.random.default_rng(7).integers(0, 255, (SIZE, SIZE), dtype=np.uint8)
    profile = {
        "driver": "GTiff", "width": SIZE, "height": SIZE, "count": 1, "dtype": "uint8",
        "crs": "EPSG:32616", "transform": rasterio.transform.from_origin(500_000, 3_400_000, 1, 1),
        "tiled": True, "blockxsize": 256, "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.build_overviews([2, 4, 8, 16], Resampling.average)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalAssetStore:
    root = tmp_path_factory.mktemp("live-store")
    (root / "live").mkdir()
    _write_cog(root / "live" / "big.tif")
    return LocalAssetStore(root)


@pytest.fixture(scope="module")
def server(scratch_url: str, store: LocalAssetStore) -> Iterator[str]:
    with live_server(scratch_url, env={"STACQL_STORAGE_URL": str(store.root)}) as url:
        yield url


def _item(cid: str, href: str) -> dict:
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": "big", "collection": cid,
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
        ],
        "geometry": {"type": "Point", "coordinates": [-87.0, 30.7]},
        "bbox": [-87.0, 30.7, -87.0, 30.7],
        "properties": {"datetime": "2024-05-01T00:00:00Z"}, "links": [],
        "assets": {"data": {
            "href": href, "type": "image/tiff; application=geotiff", "roles": ["data"],
            "proj:code": "EPSG:32616", "proj:shape": [SIZE, SIZE],
            "proj:transform": [1, 0, 500_000, 0, -1, 3_400_000],
            "raster:bands": [{"data_type": "uint8"}],
        }},
    }


@pytest.fixture
async def loaded(server: str, store: LocalAssetStore, scratch_sessions) -> str:
    """The live server's catalog with a public and a private copy of the item."""
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    async with httpx.AsyncClient(base_url=server, headers=headers) as client:
        items = [_item(cid, store.href("live/big.tif")) for cid in ("open", "closed")]
        await post_world(client, items)
    async with scratch_sessions() as session, session.begin():
        await set_private(session, "closed", True)
    return server


def _direct(store: LocalAssetStore) -> np.ndarray:
    with rasterio.open(store.root / "live" / "big.tif") as src:
        return src.read(1, window=WINDOW)


def _window_of(href: str) -> np.ndarray:
    with rasterio.Env(**GDAL_HTTP), rasterio.open(href) as src:
        return src.read(1, window=WINDOW)


def _search_href(url: str, collection: str, headers: dict[str, str] | None = None) -> str:
    client = Client.open(url, headers=headers)
    items = list(client.search(collections=[collection], max_items=1).items())
    assert [item.id for item in items] == ["big"]
    return items[0].assets["data"].href


def test_pystac_client_href_reads_as_the_stored_file(loaded: str, store) -> None:
    href = _search_href(loaded, "open")
    assert href.startswith(loaded) and "file:" not in href
    np.testing.assert_array_equal(_window_of(href), _direct(store))


def test_odc_stac_loads_the_pixels_through_the_api(loaded: str, store) -> None:
    item = next(Client.open(loaded).search(collections=["open"], max_items=1).items())
    with rasterio.Env(**GDAL_HTTP):
        data = odc.stac.load([item], bands=["data"], chunks=None)["data"]
    window = data.isel(time=0).values[
        WINDOW.row_off:WINDOW.row_off + WINDOW.height, WINDOW.col_off:WINDOW.col_off + WINDOW.width
    ]
    np.testing.assert_array_equal(window, _direct(store))


def test_vsicurl_fetches_a_small_fraction_for_a_small_window(
    loaded: str, store, caplog: pytest.LogCaptureFixture
) -> None:
    size = (store.root / "live" / "big.tif").stat().st_size
    # A URL of its own: GDAL caches what it read of a URL for the whole process.
    href = _search_href(loaded, "open") + "?fresh=vsicurl"
    # GDAL logs every range it downloads ("VSICURL: Downloading 0-16383 (url)...").
    with caplog.at_level(logging.DEBUG, logger="rasterio"), rasterio.Env(CPL_DEBUG="ON"):
        window = _window_of(f"/vsicurl/{href}")
    ranges = [tuple(map(int, m.groups())) for m in
              (DOWNLOADED.search(r.getMessage()) for r in caplog.records) if m]
    fetched = sum(last - first + 1 for first, last in ranges)
    np.testing.assert_array_equal(window, _direct(store))
    assert ranges and fetched < size * 0.05, (fetched, size, ranges)


@pytest.fixture
async def reader_token(scratch_sessions) -> str:
    async with scratch_sessions() as session, session.begin():
        _, token = await create_key(session, "reader", "read", "closed")
    return token


def test_private_hrefs_work_for_the_key_holder_and_nobody_else(
    loaded: str, store, reader_token: str
) -> None:
    href = _search_href(loaded, "closed", {"X-API-Key": reader_token})
    unsigned = href.split("?")[0]
    np.testing.assert_array_equal(_window_of(href), _direct(store))  # no headers sent
    assert httpx.get(unsigned).status_code == 404
    assert list(Client.open(loaded).search(collections=["closed"]).items()) == []
    with pytest.raises(rasterio.errors.RasterioIOError):
        _window_of(unsigned)
