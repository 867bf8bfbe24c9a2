"""Tile operations both APIs call: item tiles, previews and TileJSON, and mosaics of a
registered search, under the catalog's access rules."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

import morecantile
import shapely
import shapely.geometry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access.principal import Principal
from catalog.access.signing import grant_is_current
from catalog.assets import choose_asset, locate_asset
from catalog.errors import NotFound, Unauthorized
from catalog.geometry import bbox_polygon
from catalog.search import build_search, search
from catalog.search.lookup import get_item
from catalog.search.request import SearchRequest
from catalog.search.sort import parse_sortby
from catalog.storage import AssetStore
from catalog.tiles import (
    RasterSource,
    RenderOptions,
    TileNotAvailable,
    empty_tile,
    get_mosaic_search,
    raster_source,
    register_mosaic_search,
    render_mosaic_tile,
    render_preview,
    render_tile,
    tile_matrix_set,
    zoom_range,
)
from catalog.tiles.mosaics import check_mosaic_search

MAX_MOSAIC_ITEMS = 500
"""Items considered for one mosaic tile at most (the newest that reach it); of those,
only the ones not hidden under newer footprints are read, until the tile is covered."""

NEWEST_FIRST = parse_sortby("-datetime")


@dataclass(frozen=True)
class TileRequest:
    """A tile of a tile matrix set: its id and ``z/x/y``, and how to render it."""

    tms: str
    z: int
    x: int
    y: int
    options: RenderOptions


class TileOperations:
    """Rendering stored rasters as map tiles; every read checks the caller's access."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: AssetStore,
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.sessions = sessions
        self.read_sessions = read_sessions or sessions
        self.store = store

    async def _source(
        self, principal: Principal, collection_id: str, item_id: str, asset_key: str | None
    ) -> RasterSource:
        async with self.read_sessions() as session:
            asset = await locate_asset(
                session, self.store, principal, collection_id, item_id, asset_key
            )
        return await raster_source(self.store, asset.store_key, asset.document)

    async def item_tile(
        self, principal: Principal, collection_id: str, item_id: str, asset_key: str | None,
        tile: TileRequest,
    ) -> bytes:
        """One tile of an item's raster asset (its first stored raster by default)."""
        tms = tile_matrix_set(tile.tms)
        source = await self._source(principal, collection_id, item_id, asset_key)
        return await asyncio.to_thread(
            render_tile, source, tms, tile.x, tile.y, tile.z, tile.options
        )

    async def item_preview(
        self, principal: Principal, collection_id: str, item_id: str, asset_key: str | None,
        options: RenderOptions, max_size: int,
    ) -> bytes:
        """The whole raster asset of an item, scaled down to ``max_size`` pixels."""
        source = await self._source(principal, collection_id, item_id, asset_key)
        return await asyncio.to_thread(render_preview, source, options, max_size)

    async def item_zooms(
        self, principal: Principal, collection_id: str, item_id: str, asset_key: str | None,
        tms_name: str,
    ) -> tuple[int, int]:
        """The zoom range of ``tms_name`` worth showing the item's raster at."""
        tms = tile_matrix_set(tms_name)
        source = await self._source(principal, collection_id, item_id, asset_key)
        return await asyncio.to_thread(zoom_range, source, tms)

    async def item_bounds(
        self, principal: Principal, collection_id: str, item_id: str
    ) -> list[float]:
        """The item's bbox (west, south, east, north), for a TileJSON."""
        async with self.read_sessions() as session:
            item = await get_item(session, collection_id, item_id, principal.readable_private)
        bbox = item.get("bbox") or [-180.0, -90.0, 180.0, 90.0]
        return [bbox[0], bbox[1], bbox[-2], bbox[-1]] if len(bbox) == 6 else list(bbox)

    async def register_mosaic(self, search_body: dict[str, Any]) -> str:
        """Keep a STAC search (collections, bbox, intersects, datetime, filter...) for
        mosaic tiles and return its id; ``InvalidInput`` for a bad search."""
        check_mosaic_search(search_body)
        build_search(**_search_kwargs(search_body))  # refuse a bad search now, not per tile
        async with self.sessions() as session, session.begin():
            return await register_mosaic_search(session, search_body)

    async def mosaic_search(self, mosaic_id: str) -> dict[str, Any]:
        """The search registered as ``mosaic_id``; ``NotFound`` if none."""
        async with self.read_sessions() as session:
            return await get_mosaic_search(session, mosaic_id)

    async def mosaic_tile(
        self, principal: Principal, mosaic_id: str, asset_key: str | None, tile: TileRequest
    ) -> bytes:
        """A tile composed of the stored rasters of the registered search's items that
        cover it and the caller may read, newest on top."""
        tms = tile_matrix_set(tile.tms)
        body = await self.mosaic_search(mosaic_id)
        area = shapely.box(*tms.bounds(morecantile.Tile(tile.x, tile.y, tile.z)))
        request = _tile_request(
            build_search(**_search_kwargs(body), readable_private=principal.readable_private),
            area,
        )
        if request is None:
            return empty_tile(tile.options)
        sources = await self._mosaic_sources(principal, request, asset_key, area)
        try:
            return await asyncio.to_thread(
                render_mosaic_tile, sources, tms, tile.x, tile.y, tile.z, tile.options
            )
        except TileNotAvailable:
            # Where a mosaic has no data a map shows nothing, not a broken tile.
            return empty_tile(tile.options)

    async def _mosaic_sources(
        self, principal: Principal, request: SearchRequest, asset_key: str | None,
        area: shapely.Geometry,
    ) -> list[RasterSource]:
        # The search hides what the caller may not read; assets come with its items.
        async with self.read_sessions() as session:
            if not await grant_is_current(session, principal):
                raise Unauthorized(f"the credential of the {principal.name} has been revoked")
            page = await search(session, request)
        sources = []
        for item in _visible(page.items, area):
            chosen = choose_asset(item.get("assets") or {}, self.store, asset_key)
            store_key = self.store.key_of(chosen[1]["href"]) if chosen else None
            if chosen is None or store_key is None:
                continue  # no stored raster (external hrefs are never read)
            try:
                sources.append(await raster_source(self.store, store_key, chosen[1]))
            except NotFound:
                continue  # listed in the catalog, gone from the store
        return sources


def _visible(items: list[dict[str, Any]], area: shapely.Geometry) -> list[dict[str, Any]]:
    """Of ``items`` (newest first), those whose footprint shows somewhere in ``area``:
    an item entirely under newer footprints is skipped, and once newer footprints cover
    the whole area the rest are (rasters usually fill their footprint)."""
    shown, covered = [], shapely.Polygon()
    for item in items:
        footprint = shapely.geometry.shape(item["geometry"]) if item.get("geometry") else None
        if footprint is None:
            continue
        part = shapely.intersection(footprint, area)
        if part.is_empty or shapely.covers(covered, part):
            continue
        shown.append(item)
        covered = shapely.union(covered, part)
        if shapely.covers(covered, area):
            break
    return shown


def _search_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    names = {"filter-lang": "filter_lang"}
    return {names.get(name, name): value for name, value in body.items()}


def _tile_request(request: SearchRequest, area: shapely.Geometry) -> SearchRequest | None:
    """``request`` limited to ``area`` (lon/lat), newest first; None if they are apart."""
    if request.intersects is not None:
        area = shapely.intersection(area, request.intersects)
    elif request.bbox is not None:
        area = shapely.intersection(area, bbox_polygon(request.bbox))
    if area.is_empty:
        return None
    return replace(
        request, bbox=None, intersects=area, sortby=NEWEST_FIRST, limit=MAX_MOSAIC_ITEMS,
        token=None, count=False,
    )
