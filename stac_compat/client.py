"""The STAC API client: stac-fastapi's core interface answered by ``catalog``."""

from __future__ import annotations

from typing import Any

import attr
import orjson
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stac_fastapi.types.core import AsyncBaseCoreClient
from stac_fastapi.types.requests import get_base_url

from catalog.errors import InvalidInput
from catalog.search import SearchPage, build_search, search
from catalog.search.lookup import get_collection, get_item, list_collections
from stac_compat.links import (
    collection_url,
    page_link,
    post_page_link,
    with_collection_links,
    with_item_links,
)


def _geometry(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput("intersects must be a GeoJSON geometry") from exc
    return value.model_dump(exclude_none=True)


@attr.s
class CatalogClient(AsyncBaseCoreClient):
    """Core STAC endpoints over the catalog's search engine and lookups."""

    sessions: async_sessionmaker[AsyncSession] = attr.ib(kw_only=True)
    max_limit: int = attr.ib(default=10_000, kw_only=True)

    def _item_collection(
        self, page: SearchPage, base: str, paging: list[dict[str, Any]]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": [with_item_links(item, base) for item in page.items],
            "links": [{"rel": "root", "type": "application/json", "href": base}, *paging],
            "numberReturned": page.returned,
        }
        if page.matched is not None:
            body["numberMatched"] = page.matched
        return body

    async def _search_get(self, request: Request, **params: Any) -> dict[str, Any]:
        base = get_base_url(request)
        query = build_search(max_limit=self.max_limit, **params)
        async with self.sessions() as session:
            page = await search(session, query)
        url = str(request.url).split("?")[0]
        raw = dict(request.query_params)
        paging = [
            page_link(rel, url, raw, token)
            for rel, token in (("next", page.next_token), ("prev", page.prev_token))
            if token
        ]
        return self._item_collection(page, base, paging)

    async def get_search(
        self,
        collections: list[str] | None = None,
        ids: list[str] | None = None,
        bbox: Any = None,
        intersects: Any = None,
        datetime: str | None = None,
        limit: int | None = 10,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Called with `GET /search`."""
        return await self._search_get(
            kwargs["request"], collections=collections, ids=ids,
            bbox=list(bbox) if bbox else None, intersects=_geometry(intersects),
            datetime=datetime, limit=limit, token=kwargs.get("token"),
        )

    async def post_search(self, search_request: Any, **kwargs: Any) -> dict[str, Any]:
        """Called with `POST /search`."""
        request: Request = kwargs["request"]
        body = search_request.model_dump(mode="json", exclude_none=True, by_alias=True)
        query = build_search(
            max_limit=self.max_limit, collections=search_request.collections,
            ids=search_request.ids,
            bbox=list(search_request.bbox) if search_request.bbox else None,
            intersects=_geometry(search_request.intersects),
            datetime=search_request.datetime, limit=search_request.limit,
            token=getattr(search_request, "token", None),
        )
        async with self.sessions() as session:
            page = await search(session, query)
        url = str(request.url).split("?")[0]
        paging = [
            post_page_link(rel, url, body, token)
            for rel, token in (("next", page.next_token), ("prev", page.prev_token))
            if token
        ]
        return self._item_collection(page, get_base_url(request), paging)

    async def all_collections(self, **kwargs: Any) -> dict[str, Any]:
        """Called with `GET /collections`."""
        base = get_base_url(kwargs["request"])
        async with self.sessions() as session:
            documents = await list_collections(session)
        return {
            "collections": [with_collection_links(doc, base) for doc in documents],
            "links": [
                {"rel": "root", "type": "application/json", "href": base},
                {"rel": "self", "type": "application/json", "href": f"{base}collections"},
            ],
        }

    async def get_collection(self, collection_id: str, **kwargs: Any) -> dict[str, Any]:
        """Called with `GET /collections/{collection_id}`."""
        async with self.sessions() as session:
            document = await get_collection(session, collection_id)
        return with_collection_links(document, get_base_url(kwargs["request"]))

    async def item_collection(
        self,
        collection_id: str,
        bbox: Any = None,
        datetime: str | None = None,
        limit: int = 10,
        token: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Called with `GET /collections/{collection_id}/items`."""
        request: Request = kwargs["request"]
        async with self.sessions() as session:
            await get_collection(session, collection_id)
        body = await self._search_get(
            request, collections=[collection_id], bbox=list(bbox) if bbox else None,
            datetime=datetime, limit=limit, token=token,
        )
        base = get_base_url(request)
        body["links"] += [
            {"rel": "self", "type": "application/geo+json", "href": str(request.url)},
            {"rel": "collection", "type": "application/json",
             "href": collection_url(base, collection_id)},
            {"rel": "parent", "type": "application/json",
             "href": collection_url(base, collection_id)},
        ]
        return body

    async def get_item(self, item_id: str, collection_id: str, **kwargs: Any) -> dict[str, Any]:
        """Called with `GET /collections/{collection_id}/items/{item_id}`."""
        async with self.sessions() as session:
            document = await get_item(session, collection_id, item_id)
        return with_item_links(document, get_base_url(kwargs["request"]))
