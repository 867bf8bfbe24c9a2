"""The STAC API client: stac-fastapi's core interface answered by ``catalog``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import attr
from fastapi import Request, Response
from stac_fastapi.types.core import AsyncBaseCoreClient
from stac_fastapi.types.requests import get_base_url

from catalog.access import Principal
from catalog.assets import AssetUrls
from catalog.errors import InvalidInput
from catalog.operations import (
    AssetOperations,
    CollectionOperations,
    ItemOperations,
    SearchOperations,
)
from catalog.operations.search import for_caller
from catalog.search import RowPage, SearchPage, SearchRequest, build_search
from catalog.search.render import item_text_parts
from catalog.search.request import light_search_terms
from catalog.stac.links import (
    GEOJSON,
    JSON,
    collection_url,
    with_collection_links,
    with_item_links,
)
from stac_compat import params
from stac_compat.access import principal_of
from stac_compat.feature_text import FeatureTexts, feature_text, item_collection_response
from stac_compat.fields import apply_fields
from stac_compat.paging import page_link, post_page_link
from stac_compat.responses import geojson_response, json_response

_SPEC = "https://api.stacspec.org"
# The v1.1.0 conformance classes stac-fastapi advertises whose extension also has a
# v1.0.0 version (sortables came with v1.1.0 and have none).
V1_0_0 = {
    f"{_SPEC}/v1.1.0/{part}": f"{_SPEC}/v1.0.0/{part}"
    for part in ("item-search#sort", "ogcapi-features#sort")
}


@attr.s
class CatalogClient(AsyncBaseCoreClient):
    """Core STAC endpoints: each parses its parameters, calls ``catalog.operations``
    with the caller, and renders STAC."""

    items: ItemOperations = attr.ib(kw_only=True)
    collections: CollectionOperations = attr.ib(kw_only=True)
    searches: SearchOperations = attr.ib(kw_only=True)
    assets: AssetOperations | None = attr.ib(default=None, kw_only=True)

    async def _asset_urls(self, request: Request) -> AssetUrls | None:
        """The rewriter of stored assets' hrefs for this request's caller."""
        if self.assets is None:
            return None
        return await self.assets.urls(get_base_url(request), principal_of(request))

    def conformance_classes(self) -> list[str]:
        """The extensions' conformance classes, with the v1.0.0 URI of each v1.1.0 one
        that has a v1.0.0 version: clients (pystac-client) look for ``v1.0.*`` URIs."""
        classes = super().conformance_classes()
        return sorted({*classes, *(V1_0_0[uri] for uri in classes if uri in V1_0_0)})

    async def landing_page(self, **kwargs: Any) -> dict[str, Any]:
        """Called with `GET /`: the standard landing page, plus links to the GraphQL API
        and the catalog browser served beside it."""
        page = dict(await super().landing_page(**kwargs))
        base = get_base_url(kwargs["request"])
        page["links"] = [
            *page["links"],
            {"rel": "service-doc", "type": "text/html", "title": "Catalog browser",
             "href": f"{base}browse/"},
            {"rel": "graphql", "type": "application/graphql+json", "title": "GraphQL API",
             "href": f"{base}graphql"},
        ]
        return page

    def _item_collection(
        self, page: ItemPage, request: Request, paging: list[dict[str, Any]]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": page.features,
            "links": [{"rel": "root", "type": JSON, "href": get_base_url(request)}, *paging],
            "numberReturned": len(page.features),
        }
        if page.matched is not None:
            body["numberMatched"] = page.matched
        return body

    async def _run(self, values: dict[str, Any], request: Request) -> ItemPage:
        principal = principal_of(request)
        kwargs = params.search_kwargs(values)
        build = partial(build_search, max_limit=self.searches.max_limit, **kwargs)
        if light_search_terms(kwargs["intersects"], kwargs["filter"]):
            query = build()
        else:
            # In a thread: repairing a large search area takes CPU the event loop must
            # not wait for (a small one costs less than the thread hand-off).
            query = await asyncio.to_thread(build)
        query = for_caller(principal, query)
        base = get_base_url(request)
        urls = await self._asset_urls(request)
        include, exclude = params.fields(values.get("fields"))
        # An asked-for count runs beside the page, on a connection of its own: a request
        # waits for the slower of the two instead of their sum.
        counting = (
            asyncio.create_task(self.searches.count(principal, query)) if query.count else None
        )
        try:
            if include or exclude:
                found = await self.searches.items(
                    principal, replace(query, count=False) if query.count else query
                )
                counting = counting or await self._start_bounded_count(principal, query, found)
                features: list[dict[str, Any]] | FeatureTexts = [
                    apply_fields(with_item_links(_public(item, urls), base), include, exclude)
                    for item in found.items
                ]
                page = ItemPage(features, found.next_token, found.prev_token, None)
            else:
                rows = await self.searches.rows(principal, query, item_text_parts())
                counting = counting or await self._start_bounded_count(principal, query, rows)
                features = FeatureTexts([feature_text(row, base, urls) for row in rows.rows])
                page = ItemPage(features, rows.next_token, rows.prev_token, None)
        except BaseException:
            if counting is not None:  # not cancelled: a cancelled query costs its connection
                await asyncio.gather(counting, return_exceptions=True)
            raise
        return replace(page, matched=await self._matched(page, query, counting))

    async def _start_bounded_count(
        self, principal: Principal, query: SearchRequest, found: SearchPage | RowPage
    ) -> asyncio.Task[int | None] | None:
        """The count within ``count_budget`` a first page needs, started once its rows
        are in: its first round trip is under way while they are rendered (the task
        runs up to it before this returns). None when no count is needed: a later
        page leaves ``numberMatched`` out (a client paging on has it from the first, and
        a count on every page would double the database's work), and a first page with
        no next one is its own exact count, so nothing is sent for it."""
        if query.token is not None or found.next_token is None:
            return None
        if not self.searches.count_budget.enabled:
            return None
        counting = asyncio.create_task(self.searches.count_within_budget(principal, query))
        await asyncio.sleep(0)
        return counting

    async def _matched(
        self, page: ItemPage, query: SearchRequest, counting: asyncio.Task[int | None] | None
    ) -> int | None:
        """``numberMatched``: counted when asked; a lone first page is its own exact
        count; otherwise, on a first page, counted within ``count_budget`` or left out
        past it."""
        if query.count:
            assert counting is not None
            return await counting
        if query.token is None and page.next_token is None:
            return len(page.features)
        return None if counting is None else await counting

    async def get_search(self, **kwargs: Any) -> Response:
        """Called with `GET /search`."""
        return item_collection_response(await self._get_search(kwargs))

    async def _get_search(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        request: Request = kwargs["request"]
        page = await self._run(kwargs, request)
        url, raw = str(request.url).split("?")[0], dict(request.query_params)
        paging = _paging(page, lambda rel, token: page_link(rel, url, raw, token))
        return self._item_collection(page, request, paging)

    async def post_search(self, search_request: Any, **kwargs: Any) -> Response:
        """Called with `POST /search`."""
        request: Request = kwargs["request"]
        values = {name: getattr(search_request, name, None) for name in _POST_FIELDS}
        page = await self._run(values, request)
        url = str(request.url).split("?")[0]
        body: dict[str, Any] = {}
        if page.next_token or page.prev_token:  # only paging links repeat the body
            body = search_request.model_dump(mode="json", exclude_none=True, by_alias=True)
        paging = _paging(page, lambda rel, token: post_page_link(rel, url, body, token))
        return item_collection_response(
            self._item_collection(page, request, paging)
        )

    async def all_collections(self, **kwargs: Any) -> Response:
        """Called with `GET /collections` (with the collection-search parameters)."""
        request: Request = kwargs["request"]
        base = get_base_url(request)
        bbox = kwargs.get("bbox")
        page = await self.collections.search(
            principal_of(request),
            bbox=list(bbox) if bbox else None,
            datetime=kwargs.get("datetime"),
            q=kwargs.get("q"),
            limit=min(int(kwargs.get("limit") or 100), self.searches.max_limit),
            token=kwargs.get("token"),
        )
        links = [
            {"rel": "root", "type": JSON, "href": base},
            {"rel": "self", "type": JSON, "href": str(request.url)},
        ]
        if page.next_token:
            url = f"{base}collections"
            links.append(page_link("next", url, dict(request.query_params), page.next_token))
            links[-1]["type"] = JSON
        return json_response({
            "collections": [with_collection_links(doc, base) for doc in page.collections],
            "links": links,
            "numberMatched": page.matched,
            "numberReturned": len(page.collections),
        })

    async def get_collection(self, collection_id: str, **kwargs: Any) -> Response:
        """Called with `GET /collections/{collection_id}`."""
        document = await self.collections.get(principal_of(kwargs["request"]), collection_id)
        return json_response(with_collection_links(document, get_base_url(kwargs["request"])))

    async def item_collection(self, collection_id: str, **kwargs: Any) -> Response:
        """Called with `GET /collections/{collection_id}/items`."""
        request: Request = kwargs["request"]
        # The collection is looked up only when the page is empty or the request is bad
        # (an unknown collection still answers 404 first): one query less per page.
        try:
            body = await self._get_search({**kwargs, "collections": [collection_id]})
        except InvalidInput:
            await self._require_collection(collection_id, request)
            raise
        if not body["features"]:
            await self._require_collection(collection_id, request)
        base = get_base_url(request)
        body["links"] += [
            {"rel": "self", "type": GEOJSON, "href": str(request.url)},
            {"rel": "collection", "type": JSON, "href": collection_url(base, collection_id)},
            {"rel": "parent", "type": JSON, "href": collection_url(base, collection_id)},
        ]
        return item_collection_response(body)

    async def _require_collection(self, collection_id: str, request: Request) -> None:
        await self.collections.get(principal_of(request), collection_id)

    async def get_item(self, item_id: str, collection_id: str, **kwargs: Any) -> Response:
        """Called with `GET /collections/{collection_id}/items/{item_id}`."""
        request: Request = kwargs["request"]
        document = await self.items.get(principal_of(request), collection_id, item_id)
        document = _public(document, await self._asset_urls(request))
        return geojson_response(with_item_links(document, get_base_url(request)))


def _public(item: dict[str, Any], urls: AssetUrls | None) -> dict[str, Any]:
    """``item`` with the hrefs of its stored assets made public by ``urls``."""
    return item if urls is None else urls.item(item)


@dataclass(frozen=True)
class ItemPage:
    """A page of STAC Items with their links: dicts, or JSON texts passed through."""

    features: list[dict[str, Any]] | FeatureTexts
    next_token: str | None
    prev_token: str | None
    matched: int | None


def _paging(
    page: ItemPage, make_link: Callable[[str, str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """The next/prev links of a page, built by ``make_link(rel, token)``."""
    tokens = (("next", page.next_token), ("prev", page.prev_token))
    return [make_link(rel, token) for rel, token in tokens if token]


_POST_FIELDS = (
    "collections", "ids", "bbox", "intersects", "datetime", "limit", "token", "filter_expr",
    "filter_lang", "sortby", "fields", "query", "q", "count",
)
