"""Map tiles over HTTP: an item's raster, and mosaics of a registered search.

``/collections/{c}/items/{i}/tiles/{tms}/{z}/{x}/{y}.{format}``, ``.../tilejson.json`` and
``.../preview.{format}``; ``POST /mosaics`` registers a STAC search body and answers its
id and links, ``/mosaics/{id}/tiles/...`` and ``/mosaics/{id}/tilejson.json`` serve it.
The caller is the one of the request's headers or of a signed ``?token=``; TileJSON tile
URLs carry the caller's grant, so a map library needs no headers.
"""

# No ``from __future__ import annotations``: FastAPI reads the dependency aliases of the
# routes below (defined inside the factory) from evaluated annotations.
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.responses import Response

from catalog.access import Principal
from catalog.assets import GRANT_PARAMETER, url_segment
from catalog.errors import InvalidInput
from catalog.operations import AssetOperations, TileOperations, TileRequest
from catalog.tiles import FORMATS, RenderOptions
from stac_compat.access import principal_of
from stac_compat.responses import json_response

ITEM = "/collections/{collection_id}/items/{item_id}"
TILE = "/tiles/{tms}/{z:int}/{x:int}/{y:int}.{image_format}"
DEFAULT_TMS = "WebMercatorQuad"
# Tiles change only when the item does; a short public cache spares repeated renders.
TILE_CACHE = "private, max-age=300"


@dataclass(frozen=True)
class RenderParams:
    """Query parameters that choose the asset and how it is drawn."""

    assets: Annotated[str | None, Query(description="Asset key (default: first raster)")] = None
    bands: Annotated[str | None, Query(description="1-based bands, e.g. 3,2,1")] = None
    rescale: Annotated[
        list[str] | None, Query(description="min,max per band (one for all), e.g. 0,3000")
    ] = None
    colormap: Annotated[str | None, Query(description="rio-tiler colormap for one band")] = None
    nodata: Annotated[float | None, Query()] = None
    tilesize: Annotated[int, Query(ge=1, le=1024)] = 256

    def options(self, image_format: str) -> RenderOptions:
        """The render options, ``InvalidInput`` for a malformed value."""
        fmt = FORMATS.get(image_format.lower())
        if fmt is None:
            raise InvalidInput(f"image format must be one of {', '.join(FORMATS)}")
        return RenderOptions(
            bands=_ints(self.bands, "bands"), rescale=_ranges(self.rescale), nodata=self.nodata,
            colormap=self.colormap, image_format=fmt, tile_size=self.tilesize,
        )

    def query(self) -> dict[str, Any]:
        """The parameters as given, for the URLs a TileJSON lists."""
        given = {name: getattr(self, name) for name in
                 ("assets", "bands", "rescale", "colormap", "nodata")}
        if self.tilesize != 256:
            given["tilesize"] = self.tilesize
        return {name: value for name, value in given.items() if value is not None}


def _ints(text: str | None, name: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as exc:
        raise InvalidInput(f"{name} must be comma-separated integers, not {text!r}") from exc


def _ranges(values: list[str] | None) -> tuple[tuple[float, float], ...] | None:
    if not values:
        return None
    ranges = []
    for value in values:
        try:
            low, high = (float(part) for part in value.split(","))
        except ValueError as exc:
            raise InvalidInput(f"rescale must be 'min,max', not {value!r}") from exc
        ranges.append((low, high))
    return tuple(ranges)


def _image(data: bytes, options: RenderOptions) -> Response:
    return Response(data, media_type=options.media_type, headers={"cache-control": TILE_CACHE})


def create_tile_router(assets: AssetOperations, tiles: TileOperations) -> APIRouter:
    """The router serving item tiles, previews, TileJSON and mosaics."""
    router = APIRouter(tags=["Tiles"])

    async def caller(
        request: Request, token: Annotated[str | None, Query(alias=GRANT_PARAMETER)] = None
    ) -> Principal:
        return await assets.caller(principal_of(request), token)

    Caller = Annotated[Principal, Depends(caller)]
    Params = Annotated[RenderParams, Depends()]

    async def tile_urls(request: Request, path: str, params: RenderParams, fmt: str) -> str:
        urls = await assets.urls(str(request.base_url), principal_of(request))
        query = params.query() | ({GRANT_PARAMETER: urls.grant} if urls.grant else {})
        template = f"{request.base_url}{path}/tiles/{{tms}}/{{z}}/{{x}}/{{y}}.{fmt}"
        return template + (f"?{urlencode(query, doseq=True)}" if query else "")

    @router.get(ITEM + TILE, name="Tile of an item's raster")
    async def item_tile(
        collection_id: str, item_id: str, tms: str, z: int, x: int, y: int, image_format: str,
        principal: Caller, params: Params,
    ) -> Response:
        options = params.options(image_format)
        data = await tiles.item_tile(
            principal, collection_id, item_id, params.assets, TileRequest(tms, z, x, y, options)
        )
        return _image(data, options)

    @router.get(ITEM + "/preview.{image_format}", name="Preview of an item's raster")
    async def item_preview(
        collection_id: str, item_id: str, image_format: str, principal: Caller, params: Params,
        max_size: Annotated[int, Query(ge=1, le=2048)] = 1024,
    ) -> Response:
        options = params.options(image_format)
        data = await tiles.item_preview(
            principal, collection_id, item_id, params.assets, options, max_size
        )
        return _image(data, options)

    @router.get(ITEM + "/tilejson.json", name="TileJSON of an item's raster")
    async def item_tilejson(
        request: Request, collection_id: str, item_id: str, principal: Caller, params: Params,
        tms: str = DEFAULT_TMS, tile_format: Annotated[str, Query(alias="format")] = "png",
    ) -> Response:
        params.options(tile_format)  # refuse bad parameters here, not in every tile
        minzoom, maxzoom = await tiles.item_zooms(
            principal, collection_id, item_id, params.assets, tms
        )
        bounds = await tiles.item_bounds(principal, collection_id, item_id)
        path = f"collections/{url_segment(collection_id)}/items/{url_segment(item_id)}"
        template = await tile_urls(request, path, params, tile_format)
        return json_response(_tilejson(template.replace("{tms}", tms), bounds, minzoom, maxzoom))

    @router.post("/mosaics", status_code=201, name="Register a mosaic search")
    async def register_mosaic(
        request: Request, search: Annotated[dict[str, Any], Body()]
    ) -> Response:
        mosaic_id = await tiles.register_mosaic(search)
        return json_response(_mosaic_document(request, mosaic_id, search), status_code=201)

    @router.get("/mosaics/{mosaic_id}", name="A registered mosaic search")
    async def get_mosaic(request: Request, mosaic_id: str) -> Response:
        search = await tiles.mosaic_search(mosaic_id)
        return json_response(_mosaic_document(request, mosaic_id, search))

    @router.get("/mosaics/{mosaic_id}" + TILE, name="Tile of a mosaic")
    async def mosaic_tile(
        mosaic_id: str, tms: str, z: int, x: int, y: int, image_format: str,
        principal: Caller, params: Params,
    ) -> Response:
        options = params.options(image_format)
        data = await tiles.mosaic_tile(
            principal, mosaic_id, params.assets, TileRequest(tms, z, x, y, options)
        )
        return _image(data, options)

    @router.get("/mosaics/{mosaic_id}/tilejson.json", name="TileJSON of a mosaic")
    async def mosaic_tilejson(
        request: Request, mosaic_id: str, params: Params, tms: str = DEFAULT_TMS,
        tile_format: Annotated[str, Query(alias="format")] = "png",
        minzoom: Annotated[int, Query(ge=0, le=30)] = 0,
        maxzoom: Annotated[int, Query(ge=0, le=30)] = 22,
    ) -> Response:
        params.options(tile_format)
        search = await tiles.mosaic_search(mosaic_id)
        template = await tile_urls(request, f"mosaics/{mosaic_id}", params, tile_format)
        bbox = search.get("bbox") or [-180.0, -85.05, 180.0, 85.05]
        return json_response(_tilejson(template.replace("{tms}", tms), bbox, minzoom, maxzoom))

    return router


def _tilejson(template: str, bounds: list[float], minzoom: int, maxzoom: int) -> dict[str, Any]:
    west, south, east, north = bounds[:4]
    return {
        "tilejson": "3.0.0", "tiles": [template], "bounds": [west, south, east, north],
        "minzoom": minzoom, "maxzoom": maxzoom,
        "center": [(west + east) / 2, (south + north) / 2, minzoom],
    }


def _mosaic_document(request: Request, mosaic_id: str, search: dict[str, Any]) -> dict[str, Any]:
    base = f"{request.base_url}mosaics/{mosaic_id}"
    return {
        "id": mosaic_id, "search": search,
        "links": [
            {"rel": "self", "type": "application/json", "href": base},
            {"rel": "tilejson", "type": "application/json", "href": f"{base}/tilejson.json"},
            {"rel": "tiles", "type": "image/png", "templated": True,
             "href": f"{base}/tiles/{DEFAULT_TMS}/{{z}}/{{x}}/{{y}}.png"},
        ],
    }
