"""Item tiles, previews, TileJSON and mosaics over the real app, against rio-tiler and
rasterio reading the same files directly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile
from rasterio.warp import transform_bounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader

from catalog.access import create_key, set_private
from catalog.storage import LocalAssetStore
from stacql.settings import DatabaseSettings, Settings, StorageSettings
from tests.support.access import admin_key
from tests.support.app_client import app_client
from tests.support.documents import post_world
from tests.support.paths import RASTERS

COG = RASTERS / "rio-tiler" / "cog.tif"
ITEM = "/collections/scenes/items/cog"
BLOCK = (10.0, 50.0, 11.0, 51.0)  # lon/lat of the mosaic's synthetic rasters
# Small overlapping RGB COGs of random pixels (as in bench/mosaics.py), oldest first.
PATCHES = [(10.0 + 0.03 * i, 50.0 + 0.02 * i, 10.06 + 0.03 * i, 50.06 + 0.02 * i)
           for i in range(4)]


def _bounds(path: Path) -> list[float]:
    with rasterio.open(path) as src:
        return list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))


def _stats(path: Path) -> dict[str, float]:
    with rasterio.open(path) as src:
        data = src.read(1, masked=True)
    return {"minimum": float(data.min()), "maximum": float(data.max())}


def _write_block(path: Path, value: int) -> None:
    """A 256 x 256 uint8 raster over ``BLOCK`` filled with ``value`` (0 is nodata)."""
    transform = rasterio.transform.from_bounds(*BLOCK, 256, 256)
    profile = {"driver": "GTiff", "width": 256, "height": 256, "count": 1, "dtype": "uint8",
               "crs": "EPSG:4326", "transform": transform, "nodata": 0, "tiled": True}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((256, 256), value, dtype="uint8"), 1)


def _write_patch(path: Path, bounds: tuple[float, ...], seed: int) -> None:
    """A 512 x 512 RGB COG of random values over ``bounds`` (0 is nodata), one overview."""
    data = np.random.default_rng(seed).integers(1, 255, (3, 512, 512), dtype=np.uint8)
    profile = {"driver": "COG", "width": 512, "height": 512, "count": 3, "dtype": "uint8",
               "crs": "EPSG:4326", "nodata": 0, "blocksize": 256,
               "transform": rasterio.transform.from_bounds(*bounds, 512, 512)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def _item(cid: str, iid: str, href: str, bbox: list[float], when: str,
          asset: dict[str, Any] | None = None) -> dict[str, Any]:
    west, south, east, north = bbox
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": iid, "collection": cid,
        "geometry": {"type": "Polygon", "coordinates": [ring]}, "bbox": bbox,
        "properties": {"datetime": when}, "links": [],
        "assets": {"data": {"href": href, "type": "image/tiff; application=geotiff",
                            "roles": ["data"], "proj:code": "EPSG:4326", **(asset or {})}},
    }


@dataclass
class Tiles:
    client: httpx.AsyncClient
    admin: str
    reader: str
    patches: list[Path]


@pytest.fixture
async def tiles(scratch_url, scratch_sessions, tmp_path: Path) -> AsyncIterator[Tiles]:
    store = LocalAssetStore(tmp_path / "store")
    await store.put("scenes/cog.tif", COG.read_bytes())
    for name, value in (("old", 10), ("new", 200), ("hidden", 99)):
        _write_block(tmp_path / f"{name}.tif", value)
        await store.put(f"blocks/{name}.tif", (tmp_path / f"{name}.tif").read_bytes())
    for index, bounds in enumerate(PATCHES):
        _write_patch(tmp_path / f"patch{index}.tif", bounds, index)
        await store.put(f"patches/{index}.tif", (tmp_path / f"patch{index}.tif").read_bytes())
    settings = Settings(database=DatabaseSettings(url=scratch_url),
                        storage=StorageSettings(url=str(store.root)))
    admin = await admin_key(scratch_sessions)
    auth = {"X-API-Key": admin}
    bands = {"raster:bands": [{"statistics": _stats(COG)}]}
    items = [
        _item("scenes", "cog", store.href("scenes/cog.tif"), _bounds(COG),
              "2020-01-01T00:00:00Z", bands),
        _item("blocks", "old", store.href("blocks/old.tif"), list(BLOCK), "2020-01-01T00:00:00Z"),
        _item("blocks", "new", store.href("blocks/new.tif"), list(BLOCK), "2021-01-01T00:00:00Z"),
        _item("vault", "hidden", store.href("blocks/hidden.tif"), list(BLOCK),
              "2022-01-01T00:00:00Z"),
        *(_item("patches", f"patch{index}", store.href(f"patches/{index}.tif"), list(bounds),
                f"2023-01-0{index + 1}T00:00:00Z") for index, bounds in enumerate(PATCHES)),
    ]
    async with app_client(settings) as (_, client):
        await post_world(client, items, auth)
        async with scratch_sessions() as session, session.begin():
            await set_private(session, "vault", True)
            _, reader = await create_key(session, "vault-reader", "read", "vault")
        yield Tiles(client, admin, reader,
                    [tmp_path / f"patch{index}.tif" for index in range(len(PATCHES))])


WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")


def _center_tile(bounds: list[float], zoom: int) -> morecantile.Tile:
    return WEB_MERCATOR.tile((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, zoom)


def _pixels(image: bytes) -> np.ndarray:
    """An encoded image decoded by GDAL, as (height, width, bands); PNG and WEBP tiles
    end with an alpha band."""
    with MemoryFile(image) as file, file.open() as dataset:
        return np.moveaxis(dataset.read(), 0, -1)


async def test_item_tile_matches_rio_tiler_on_the_file(tiles: Tiles) -> None:
    tile = _center_tile(_bounds(COG), 8)
    url = f"{ITEM}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    response = await tiles.client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    stats = _stats(COG)
    with Reader(str(COG)) as reader:
        reference = reader.tile(tile.x, tile.y, tile.z).rescale(
            in_range=((stats["minimum"], stats["maximum"]),)
        ).render(img_format="PNG")
    ours, expected = _pixels(response.content), _pixels(reference)
    np.testing.assert_array_equal(ours, expected)
    assert ours[..., -1].any() and ours[..., 0].std() > 0  # data, not a blank tile


async def test_tile_outside_the_raster_is_not_found(tiles: Tiles) -> None:
    response = await tiles.client.get(f"{ITEM}/tiles/WebMercatorQuad/8/0/0.png")
    assert response.status_code == 404
    assert response.json()["code"] == "TILE_OUTSIDE_BOUNDS"


@pytest.mark.parametrize(("fmt", "media"), [("webp", "image/webp"), ("jpg", "image/jpeg")])
async def test_tile_formats(tiles: Tiles, fmt: str, media: str) -> None:
    tile = _center_tile(_bounds(COG), 7)
    url = f"{ITEM}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.{fmt}?colormap=viridis"
    response = await tiles.client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == media
    assert _pixels(response.content).shape[:2] == (256, 256)


async def test_other_tile_matrix_sets(tiles: Tiles) -> None:
    bounds = _bounds(COG)
    # WorldCRS84Quad: zoom z has 2^(z+1) x 2^z tiles of 180/2^z degrees.
    z = 5
    size = 180 / 2**z
    x = int(((bounds[0] + bounds[2]) / 2 + 180) // size)
    y = int((90 - (bounds[1] + bounds[3]) / 2) // size)
    response = await tiles.client.get(f"{ITEM}/tiles/WorldCRS84Quad/{z}/{x}/{y}.png")
    assert response.status_code == 200
    assert _pixels(response.content)[..., -1].any()


async def test_tilejson_lists_a_working_tile_template(tiles: Tiles) -> None:
    response = await tiles.client.get(f"{ITEM}/tilejson.json?rescale=0,5000")
    doc = response.json()
    with Reader(str(COG)) as reader:
        assert (doc["minzoom"], doc["maxzoom"]) == (reader.minzoom, reader.maxzoom)
    np.testing.assert_allclose(doc["bounds"], _bounds(COG))
    tile = _center_tile(doc["bounds"], doc["maxzoom"])
    url = doc["tiles"][0].format(z=tile.z, x=tile.x, y=tile.y)
    assert "rescale=0%2C5000" in url
    assert (await tiles.client.get(url)).status_code == 200


async def test_preview_is_bounded(tiles: Tiles) -> None:
    response = await tiles.client.get(f"{ITEM}/preview.png?max_size=300")
    assert response.status_code == 200 and max(_pixels(response.content).shape[:2]) == 300


@pytest.mark.parametrize(
    "query",
    ["bands=a", "bands=2", "colormap=nope", "rescale=1", "tilesize=5000", "bands=0"],
)
async def test_bad_render_parameters_are_400(tiles: Tiles, query: str) -> None:
    tile = _center_tile(_bounds(COG), 8)
    url = f"{ITEM}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png?{query}"
    response = await tiles.client.get(url)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"code", "description"}


@pytest.mark.parametrize("path", ["/tiles/NoSuchTMS/8/1/1.png", "/tiles/WebMercatorQuad/8/1/1.gif"])
async def test_unknown_tms_or_format_is_400(tiles: Tiles, path: str) -> None:
    response = await tiles.client.get(ITEM + path)
    assert response.status_code == 400


async def _mosaic(client: httpx.AsyncClient, search: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/mosaics", json=search)
    assert response.status_code == 201, response.text
    return response.json()


def _block_tile() -> morecantile.Tile:
    return _center_tile(list(BLOCK), 9)


async def test_mosaic_puts_the_newest_on_top(tiles: Tiles) -> None:
    mosaic = await _mosaic(tiles.client, {"collections": ["blocks"]})
    tile = _block_tile()
    url = f"/mosaics/{mosaic['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    pixels = _pixels((await tiles.client.get(url)).content)
    covered = pixels[..., -1] > 0
    assert covered.any()
    assert set(np.unique(pixels[covered][:, 0])) == {200}  # "new" (2021) over "old" (2020)


@pytest.mark.parametrize("zoom", [8, 10, 12])
async def test_mosaic_tiles_are_rio_tilers_mosaic_of_the_files(tiles: Tiles, zoom: int) -> None:
    """Pixel for pixel what rio-tiler's own mosaic of the same files gives (newest first,
    each file read with ``Reader.tile``), where the tile shows several of them."""
    mosaic = await _mosaic(tiles.client, {"collections": ["patches"]})
    west, south = PATCHES[0][:2]
    east, north = PATCHES[-1][2:]
    tile = _center_tile([west, south, east, north], zoom)
    url = f"/mosaics/{mosaic['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    response = await tiles.client.get(url)
    assert response.status_code == 200

    def read(path: Path, x: int, y: int, z: int) -> ImageData:
        with Reader(str(path)) as reader:
            return reader.tile(x, y, z)

    newest_first = list(reversed(tiles.patches))
    image, used = mosaic_reader(newest_first, read, tile.x, tile.y, tile.z)
    expected = _pixels(image.render(img_format="PNG"))
    ours = _pixels(response.content)
    assert len(used) >= 2  # the tile shows more than one raster
    np.testing.assert_array_equal(ours, expected)
    assert ours[..., -1].any() and ours[..., 0].std() > 0


async def test_mosaic_follows_the_search_filters(tiles: Tiles) -> None:
    mosaic = await _mosaic(
        tiles.client, {"collections": ["blocks"], "datetime": "../2020-12-31T00:00:00Z"}
    )
    tile = _block_tile()
    url = f"/mosaics/{mosaic['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    pixels = _pixels((await tiles.client.get(url)).content)
    assert set(np.unique(pixels[pixels[..., -1] > 0][:, 0])) == {10}


async def test_mosaic_hides_private_rasters_from_callers_who_may_not_read_them(
    tiles: Tiles,
) -> None:
    mosaic = await _mosaic(tiles.client, {"collections": ["blocks", "vault"]})
    tile = _block_tile()
    url = f"/mosaics/{mosaic['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    anonymous = _pixels((await tiles.client.get(url)).content)
    reader = _pixels((await tiles.client.get(url, headers={"X-API-Key": tiles.reader})).content)
    assert set(np.unique(anonymous[anonymous[..., -1] > 0][:, 0])) == {200}
    assert set(np.unique(reader[reader[..., -1] > 0][:, 0])) == {99}


async def test_mosaic_tile_with_no_data_is_transparent(tiles: Tiles) -> None:
    mosaic = await _mosaic(tiles.client, {"collections": ["blocks"]})
    response = await tiles.client.get(f"/mosaics/{mosaic['id']}/tiles/WebMercatorQuad/9/0/0.png")
    assert response.status_code == 200
    assert not _pixels(response.content)[..., -1].any()


async def test_mosaic_registration_is_idempotent_and_validated(tiles: Tiles) -> None:
    first = await _mosaic(tiles.client, {"collections": ["blocks"]})
    second = await _mosaic(tiles.client, {"collections": ["blocks"]})
    bad = await tiles.client.post("/mosaics", json={"bbox": [1, 2, 3]})
    unknown = await tiles.client.post("/mosaics", json={"limit": 5})
    assert first["id"] == second["id"]
    assert bad.status_code == 400 and unknown.status_code == 400
    assert (await tiles.client.get("/mosaics/nope/tilejson.json")).status_code == 404


async def test_private_item_tiles_need_read_access(tiles: Tiles) -> None:
    base = "/collections/vault/items/hidden"
    anonymous = await tiles.client.get(f"{base}/tilejson.json")
    doc = (await tiles.client.get(f"{base}/tilejson.json",
                                  headers={"X-API-Key": tiles.reader})).json()
    tile = _block_tile()
    url = doc["tiles"][0].format(z=tile.z, x=tile.x, y=tile.y)
    assert anonymous.status_code == 404
    assert "token=" in url
    signed = await tiles.client.get(url)  # no headers: the grant in the URL decides
    assert signed.status_code == 200 and _pixels(signed.content)[..., -1].any()


@pytest.mark.parametrize(
    "body",
    [b'{"\\u00e3\\u009d": 5, "collections": ["blocks"]}', b'{"collections": ["\\ud982"]}',
     b'{"collections": ["a\\u0000b"]}', b'{"q": ["\\udc00x"]}'],
)
async def test_hostile_mosaic_searches_are_400(tiles: Tiles, body: bytes) -> None:
    response = await tiles.client.post(
        "/mosaics", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"code", "description"}
