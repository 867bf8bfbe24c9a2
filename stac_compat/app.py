"""The STAC API factory: stac-fastapi routes and extensions wired to the catalog."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stac_fastapi.api.app import StacApi
from stac_fastapi.api.models import (
    GeoJSONResponse,
    ItemCollectionUri,
    create_get_request_model,
    create_request_model,
)
from stac_fastapi.extensions.aggregation import AggregationExtension
from stac_fastapi.extensions.collection_search import CollectionSearchExtension
from stac_fastapi.extensions.fields import FieldsExtension
from stac_fastapi.extensions.fields.fields import FieldsConformanceClasses
from stac_fastapi.extensions.filter import ItemCollectionFilterExtension, SearchFilterExtension
from stac_fastapi.extensions.filter.filter import FilterConformanceClasses as Filter
from stac_fastapi.extensions.free_text import FreeTextExtension
from stac_fastapi.extensions.free_text.free_text import FreeTextConformanceClasses
from stac_fastapi.extensions.pagination import TokenPaginationExtension
from stac_fastapi.extensions.query import QueryExtension
from stac_fastapi.extensions.sort import ItemCollectionSortExtension, SearchSortExtension
from stac_fastapi.types.config import ApiSettings
from stac_fastapi.types.extension import ApiExtension
from stac_fastapi.types.search import BaseSearchPostRequest

from catalog.access import JwtVerifier
from catalog.operations import (
    AssetOperations,
    CollectionOperations,
    ExportOperations,
    ItemOperations,
    SavedSearchOperations,
    SearchOperations,
    TileOperations,
)
from stac_compat.access import Authentication
from stac_compat.aggregation import AggregationClient
from stac_compat.assets import create_asset_router
from stac_compat.client import CatalogClient
from stac_compat.count import CountExtension
from stac_compat.errors import add_error_handlers
from stac_compat.exports import create_export_router
from stac_compat.filter import FilterPostRequest
from stac_compat.middleware import DEFAULT_MAX_BODY, JsonBodyGuard
from stac_compat.openapi import api_routes, declare_path_parameters, unique_operation_ids
from stac_compat.plain_search import PlainSearches, exception_handlers
from stac_compat.queryables import QueryablesClient
from stac_compat.saved_searches import create_saved_search_router
from stac_compat.tiles import create_tile_router
from stac_compat.transactions import CatalogTransactionExtension, TransactionsClient
from stac_compat.write_access import WriteAccess

# The CQL2 the compiler in catalog/search/cql2.py evaluates.
FILTER_CLASSES = [
    Filter.FILTER, Filter.SEARCH, Filter.ITEMS, Filter.CQL2_TEXT, Filter.CQL2_JSON,
    Filter.BASIC_CQL2, Filter.BASIC_SPATIAL_FUNCTIONS, Filter.SPATIAL_FUNCTIONS,
    Filter.TEMPORAL_FUNCTIONS, Filter.ADVANCED_COMPARISON_OPERATORS, Filter.ARRAY_FUNCTIONS,
    Filter.CASE_INSENSITIVE_COMPARISON,
]


def _search_extensions(sessions: async_sessionmaker[AsyncSession]) -> list[ApiExtension]:
    return [
        TokenPaginationExtension(),
        SearchFilterExtension(
            client=QueryablesClient(sessions=sessions), conformance_classes=FILTER_CLASSES
        ),
        SearchSortExtension(),
        FieldsExtension(conformance_classes=[FieldsConformanceClasses.SEARCH]),
        QueryExtension(),
        FreeTextExtension(conformance_classes=[FreeTextConformanceClasses.SEARCH]),
        CountExtension(),
    ]


def _items_extensions(sessions: async_sessionmaker[AsyncSession]) -> list[ApiExtension]:
    return [
        TokenPaginationExtension(),
        ItemCollectionFilterExtension(
            client=QueryablesClient(sessions=sessions), conformance_classes=[Filter.ITEMS]
        ),
        ItemCollectionSortExtension(),
        FieldsExtension(conformance_classes=[FieldsConformanceClasses.ITEMS]),
        FreeTextExtension(conformance_classes=[FreeTextConformanceClasses.ITEMS]),
        CountExtension(),
    ]


def create_stac_api(
    sessions: async_sessionmaker[AsyncSession],
    *,
    title: str = "stacql",
    description: str = "STAC API of the stacql catalog",
    version: str = "0.1.0",
    items: ItemOperations,
    collections: CollectionOperations,
    searches: SearchOperations,
    read_sessions: async_sessionmaker[AsyncSession] | None = None,
    jwt: JwtVerifier | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    assets: AssetOperations | None = None,
    tiles: TileOperations | None = None,
    accel_redirect: str | None = None,
    exports: ExportOperations | None = None,
    saved_searches: SavedSearchOperations | None = None,
    plain_searches: bool = True,
) -> FastAPI:
    """The STAC API as a sub-application, to mount at the root of the service after the
    other faces' routes. Its error handlers (STAC error bodies) and its middleware
    (authentication, JSON body checks) apply to its own requests only; what applies to
    the whole service (CORS, compression, proxy headers, public URL) is the composition
    root's.

    The routes call ``items``, ``collections`` and ``searches`` (which carry the page
    cap, the budget of unasked counts and the post-write hooks) with the caller.
    ``read_sessions``, when given, serve queryables. Callers are
    authenticated by API key (or by bearer JWT with ``jwt``); bodies over ``max_body``
    bytes are refused (``stac_compat.middleware``). With ``assets``, stored assets are served at
    ``/collections/{c}/items/{i}/assets/{key}`` and item hrefs point there; with
    ``tiles`` too, item tiles and mosaics are served (``stac_compat.tiles``).
    ``accel_redirect`` hands local files to nginx (``stac_compat.assets``). With
    ``exports`` too, searches are exported to files at ``/exports`` (``stac_compat.exports``).
    With ``saved_searches``, callers keep searches with webhooks at ``/saved-searches``.
    ``plain_searches`` answers plain searches without FastAPI's dependency solving
    (``stac_compat.plain_search``); off, every request goes through the routes.
    """
    writes, sessions = sessions, read_sessions or sessions
    # The service's OpenAPI description is this one (GraphQL has its own schema).
    app = FastAPI(title=title, version=version, openapi_url="/api", docs_url="/api.html",
                  redoc_url=None)
    settings = ApiSettings(
        stac_fastapi_title=title,
        stac_fastapi_description=description,
        stac_fastapi_version=version,
        stac_fastapi_landing_id="stacql",
        enable_response_models=False,
    )
    search_extensions = _search_extensions(sessions)
    items_extensions = _items_extensions(sessions)
    collection_search = CollectionSearchExtension.from_extensions(
        [
            FreeTextExtension(conformance_classes=[FreeTextConformanceClasses.COLLECTIONS]),
            TokenPaginationExtension(),
        ]
    )
    extensions = [
        *search_extensions,
        *items_extensions,
        collection_search,
        CatalogTransactionExtension(
            client=TransactionsClient(items=items, collections=collections),
            settings=settings,
            response_class=GeoJSONResponse,
        ),
        AggregationExtension(
            client=AggregationClient(searches=searches, collections=collections)
        ),
    ]
    api = StacApi(
        app=app,
        settings=settings,
        client=CatalogClient(
            items=items,
            collections=collections,
            searches=searches,
            assets=assets,
            extensions=extensions,
            landing_page_id="stacql",
            title=title,
            description=description,
        ),
        extensions=extensions,
        search_get_request_model=create_get_request_model(search_extensions),
        search_post_request_model=create_request_model(
            "SearchPostRequest", base_model=BaseSearchPostRequest, extensions=search_extensions,
            mixins=[FilterPostRequest], request_type="POST",
        ),
        items_get_request_model=create_request_model(
            "ItemCollectionUri", base_model=ItemCollectionUri,
            extensions=items_extensions, request_type="GET",
        ),
        collections_get_request_model=collection_search.GET,
        exceptions={},
        middlewares=[],
    )
    if assets is not None:
        app.include_router(create_asset_router(assets, accel_redirect), tags=["Assets"])
        if tiles is not None:
            app.include_router(create_tile_router(assets, tiles))
        if exports is not None:
            app.include_router(create_export_router(exports, assets, accel_redirect))
    if saved_searches is not None:
        app.include_router(create_saved_search_router(saved_searches))
    add_error_handlers(app)
    declare_path_parameters(app.routes)
    unique_operation_ids(app)
    construct_inline(app.routes)
    if plain_searches:
        # Innermost: the caller is known and the body checked before a search is read.
        app.add_middleware(
            PlainSearches, client=api.client, items_get=api.items_get_request_model,
            search_get=api.search_get_request_model,
            search_post=api.search_post_request_model,
            handlers=exception_handlers(app.exception_handlers),
        )
    # Outermost Authentication, then the write check, then the JSON guard: a write is
    # refused from its headers before its body is read.
    app.add_middleware(JsonBodyGuard, max_body=max_body)
    app.add_middleware(WriteAccess)
    app.add_middleware(Authentication, sessions=writes, jwt=jwt)
    return app


def construct_inline(routes: Iterable[Any]) -> None:
    """Build the routes' request classes (stac-fastapi's attrs models of GET parameters,
    given as ``Depends(SomeRequest)``) on the event loop.

    FastAPI runs a dependency that is not a coroutine function in its thread pool: for
    a class whose constructor only checks and converts a few query parameters, the
    hand-off to a thread and back costs more than the construction, on every GET.
    """
    for route in api_routes(routes):
        _inline_classes(route.dependant)


def _inline_classes(dependant: Dependant) -> None:
    for sub in dependant.dependencies:
        if inspect.isclass(sub.call):
            sub.call = _constructor(sub.call)
        _inline_classes(sub)


def _constructor(cls: type) -> Callable[..., Any]:
    async def construct(**values: Any) -> Any:
        return cls(**values)

    construct.__name__ = construct.__qualname__ = cls.__name__
    return construct
