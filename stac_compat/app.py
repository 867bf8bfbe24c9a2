"""The STAC API factory: stac-fastapi routes and extensions wired to the catalog."""

from __future__ import annotations

from brotli_asgi import BrotliMiddleware
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stac_fastapi.api.app import StacApi
from stac_fastapi.api.middleware import ProxyHeaderMiddleware
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
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from catalog.access import JwtVerifier
from catalog.operations import AssetOperations, TileOperations
from catalog.search.count import CountBudget
from stac_compat.access import Authentication
from stac_compat.aggregation import AggregationClient
from stac_compat.assets import create_asset_router
from stac_compat.client import CatalogClient
from stac_compat.count import CountExtension
from stac_compat.errors import add_error_handlers
from stac_compat.filter import FilterPostRequest
from stac_compat.queryables import QueryablesClient
from stac_compat.tiles import create_tile_router
from stac_compat.transactions import CatalogTransactionExtension, ItemHook, TransactionsClient
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


# Bytes of files and images: compressing them again costs CPU and breaks byte ranges.
BINARY_ROUTES = [r"/assets/", r"/tiles/", r"/preview\.[a-z]+$"]


def _middlewares(trust_forwarded: bool) -> list[Middleware]:
    """stac-fastapi's middlewares, with CORS open to the headers asset readers and tile
    layers use (ranges, validators, credentials), and proxy headers only when trusted."""
    middlewares = [
        Middleware(BrotliMiddleware, excluded_handlers=BINARY_ROUTES),
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["OPTIONS", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key", "Range", "If-Range",
                           "If-None-Match", "If-Modified-Since"],
            expose_headers=["Content-Range", "Content-Length", "Accept-Ranges", "ETag",
                            "Last-Modified", "Stacql-Jobs"],
            max_age=600,
        ),
    ]
    if trust_forwarded:
        middlewares.append(Middleware(ProxyHeaderMiddleware))
    return middlewares


def create_stac_api(
    app: FastAPI,
    sessions: async_sessionmaker[AsyncSession],
    *,
    title: str = "stacql",
    description: str = "STAC API of the stacql catalog",
    version: str = "0.1.0",
    max_limit: int = 10_000,
    count_budget: CountBudget | None = None,
    after_item_write: ItemHook | None = None,
    read_sessions: async_sessionmaker[AsyncSession] | None = None,
    jwt: JwtVerifier | None = None,
    skip_auth_prefixes: tuple[str, ...] = (),
    assets: AssetOperations | None = None,
    tiles: TileOperations | None = None,
    trust_forwarded: bool = False,
    accel_redirect: str | None = None,
) -> StacApi:
    """Mount the STAC API routes on ``app`` (at its root) and return the StacApi.

    ``count_budget`` bounds the counts behind ``numberMatched`` when a search does not
    ask for one with ``count=true`` (see ``catalog.search.count``).
    ``after_item_write`` receives each item the Transaction endpoints store (see
    ``stac_compat.transactions``) and returns the ids of the jobs it queued.
    ``read_sessions``, when given, serve the routes that only read (search, items,
    collections, queryables, aggregation); writes always use ``sessions``. Callers are
    authenticated by API key (or by bearer JWT with ``jwt``) on every path but
    ``skip_auth_prefixes``. With ``assets``, stored assets are served at
    ``/collections/{c}/items/{i}/assets/{key}`` and item hrefs point there; with
    ``tiles`` too, item tiles and mosaics are served (``stac_compat.tiles``).
    ``Forwarded`` / ``X-Forwarded-*`` headers shape links only with ``trust_forwarded``.
    ``accel_redirect`` hands local files to nginx (``stac_compat.assets``).
    """
    writes, sessions = sessions, read_sessions or sessions
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
            client=TransactionsClient(sessions=writes, after_item_write=after_item_write),
            settings=settings,
            response_class=GeoJSONResponse,
        ),
        AggregationExtension(client=AggregationClient(sessions=sessions)),
    ]
    api = StacApi(
        app=app,
        settings=settings,
        client=CatalogClient(
            sessions=sessions,
            max_limit=max_limit,
            assets=assets,
            count_budget=count_budget or CountBudget(),
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
        middlewares=_middlewares(trust_forwarded),
    )
    if assets is not None:
        app.include_router(create_asset_router(assets, accel_redirect), tags=["Assets"])
        if tiles is not None:
            app.include_router(create_tile_router(assets, tiles))
    add_error_handlers(app)
    # Inside Authentication: writes are refused from their headers, before their bodies.
    app.add_middleware(WriteAccess)
    app.add_middleware(
        Authentication, sessions=writes, jwt=jwt, skip_prefixes=skip_auth_prefixes
    )
    return api
