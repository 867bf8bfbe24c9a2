"""The composition root: ``create_app(settings)`` builds the service's ASGI app."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from brotli_asgi import BrotliMiddleware
from fastapi import FastAPI
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from rq import Queue
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from stac_fastapi.api.middleware import ProxyHeaderMiddleware
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.access import FetchPolicy, JwtSettings, JwtVerifier
from catalog.db import (
    ReplicaSet,
    RoutedSessions,
    create_engine,
    create_read_sessionmaker,
    create_replica_set,
    create_sessionmaker,
)
from catalog.export import ExportSpec
from catalog.jobs import JobRecord
from catalog.operations import (
    AssetOperations,
    CollectionOperations,
    ExportOperations,
    ItemHook,
    ItemOperations,
    JobHooks,
    JobOperations,
    SavedSearchOperations,
    SearchOperations,
    TileOperations,
    WriteHooks,
)
from catalog.search.count import CountBudget
from catalog.search.usage import PropertyUsage
from catalog.storage import AssetStore, create_asset_store
from graphql_api import ItemEvents, Limits, Services, UploadedRaster, create_graphql_router
from graphql_api.body_limit import BodySizeLimit
from graphql_api.http_cache import GetCaching
from graphql_api.ide import GraphiQLPage
from graphql_api.persisted import PersistedQueries, PersistedQuerySettings
from stac_compat import create_stac_api
from stac_compat.middleware import SEARCH_MAX_BODY
from stacql.notify import saved_search_operations
from stacql.public_url import PublicUrl
from stacql.read_routing import ReadYourWrites
from stacql.settings import Settings
from stacql.usage_flush import UsageFlusher
from workers import create_queue, enqueue_export
from workers.completion import enqueue_item_completion
from workers.queue import ExtractRequest, enqueue_extract, enqueue_ingest_catalog

GRAPHQL_PATH = "/graphql"
BROWSER_PATH = "/browse"
GRAPHIQL_FOLDER = "graphiql"
"""Where the browser's build keeps GraphiQL (served at /browse/graphiql/, shown at /graphql)."""
_LIMIT_FIELDS = frozenset(f.name for f in fields(Limits))
BROWSER_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>stacql browser not built</title>
<h1>The catalog browser is not built</h1>
<p>stacql serves the browser from <code>{dir}</code>, which has no <code>index.html</code>.
Build it with <code>cd browser &amp;&amp; npm ci &amp;&amp; npm run build</code>
(<code>scripts/setup.sh</code> does it), or point <code>STACQL_BROWSER_DIR</code> at a build.</p>
</html>"""


def jwt_verifier(settings: Settings) -> JwtVerifier | None:
    """The bearer-token verifier, when a JWKS is configured."""
    auth = settings.auth
    if not auth.jwks:
        return None
    return JwtVerifier(JwtSettings(auth.jwks, audience=auth.audience, issuer=auth.issuer))


def asset_operations(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    store: AssetStore,
    read_sessions: async_sessionmaker[AsyncSession] | None = None,
) -> AssetOperations:
    """Access to stored assets with the configured URL lifetime and signing."""
    secret = settings.assets.signing_secret
    return AssetOperations(
        sessions, store,
        url_ttl=timedelta(seconds=settings.assets.url_ttl_seconds),
        secret=secret.get_secret_value().encode() if secret else None,
        sign_object_urls=settings.assets.sign_object_urls,
        read_sessions=read_sessions,
    )


def graphql_services(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    events: ItemEvents,
    queue: Queue,
    store: AssetStore,
    operations: CatalogOperations,
    verifier: JwtVerifier | None = None,
) -> Services:
    """What the GraphQL API needs, wired to the asset store and the RQ queue."""

    async def submit_extract(upload: UploadedRaster) -> JobRecord:
        request = ExtractRequest(
            collection_id=upload.collection_id, key=upload.key, item_id=upload.item_id,
            metadata_key=upload.metadata_key, datetime=upload.datetime,
            asset_key=upload.asset_key, roles=upload.roles, uploaded=True,
            replace_item=upload.replace_item, file_size=upload.file_size,
            file_checksum=upload.file_checksum,
        )
        return await enqueue_extract(sessions, queue, request)

    async def submit_ingest(href: str, collection_id: str | None) -> JobRecord:
        return await enqueue_ingest_catalog(sessions, queue, href, collection_id)

    fetch_policy = FetchPolicy(
        allowed_hosts=tuple(settings.fetch.allowed_hosts),
        allow_private=settings.fetch.allow_private,
        local_roots=tuple(settings.fetch.local_roots),
    )
    return Services(
        sessions=sessions,
        jwt=verifier,
        fetch_policy=fetch_policy,
        limits=Limits(**settings.graphql.model_dump(include=_LIMIT_FIELDS)),
        store=store,
        jobs=JobOperations(sessions, JobHooks(submit_extract, submit_ingest), fetch_policy),
        events=events,
        assets=operations.assets,
        items=operations.items,
        collections=operations.collections,
        searches=operations.searches,
        saved_searches=operations.saved_searches,
        exports=operations.exports,
        checksum=settings.workers.checksum,
    )


def persisted_queries(settings: Settings, redis: AsyncRedis) -> PersistedQueries:
    """Automatic persisted queries kept in ``redis`` within the configured bounds."""
    graphql = settings.graphql
    return PersistedQueries(redis, PersistedQuerySettings(
        max_query_bytes=graphql.apq_max_query_bytes, ttl_seconds=graphql.apq_ttl_seconds,
        max_entries=graphql.apq_max_entries,
    ))


def export_operations(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], queue: Queue,
    store: AssetStore,
) -> ExportOperations:
    """Exports of searches, run by the workers of ``queue``, files kept in ``store``."""

    async def submit(spec: ExportSpec) -> JobRecord:
        return await enqueue_export(sessions, queue, spec)

    return ExportOperations(
        sessions, store, submit,
        url_ttl=timedelta(seconds=settings.assets.url_ttl_seconds),
        sign_object_urls=settings.assets.sign_object_urls,
    )


@dataclass(frozen=True)
class CatalogOperations:
    """The operations both APIs call, built once so the same write has the same effect
    (and fires the same hooks) from either."""

    items: ItemOperations
    collections: CollectionOperations
    searches: SearchOperations
    assets: AssetOperations
    tiles: TileOperations
    saved_searches: SavedSearchOperations
    exports: ExportOperations


def catalog_operations(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    read_sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    store: AssetStore,
) -> CatalogOperations:
    """The catalog's operations wired to the configured limits, storage and queue."""
    hooks = WriteHooks(after_item_write=_completion_hook(sessions, queue, store))
    return CatalogOperations(
        items=ItemOperations(sessions, hooks, read_sessions),
        collections=CollectionOperations(sessions, read_sessions),
        searches=SearchOperations(
            read_sessions, max_limit=settings.api.max_limit,
            count_budget=CountBudget(settings.api.count_budget_ms, settings.api.count_max_rows),
            usage=PropertyUsage() if settings.api.usage_flush_seconds > 0 else None,
        ),
        assets=asset_operations(settings, sessions, store, read_sessions),
        tiles=TileOperations(sessions, store, read_sessions),
        saved_searches=saved_search_operations(settings, sessions, read_sessions),
        exports=export_operations(settings, sessions, queue, store),
    )


def _completion_hook(
    sessions: async_sessionmaker[AsyncSession], queue: Queue, store: AssetStore
) -> ItemHook:
    """Items written through either API whose raster in our storage lacks its metadata
    get an extraction job (``workers.completion``)."""

    async def hook(item: dict[str, Any]) -> list[str]:
        job = await enqueue_item_completion(sessions, queue, store, item)
        return [str(job.id)] if job is not None else []

    return hook
# Bytes of files and images: compressing them again costs CPU and breaks byte ranges.
BINARY_ROUTES = [r"/assets/", r"/tiles/", r"/preview\.[a-z]+$"]


def service_middlewares(trust_forwarded: bool) -> list[Middleware]:
    """What every face's responses go through: compression, CORS open to the headers
    asset readers and tile layers use (ranges, validators, credentials), and proxy
    headers only when trusted (they shape the links of both APIs)."""
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


def browser_app(directory: Path) -> ASGIApp:
    """The built catalog browser as static files, or a 503 page saying how to build it.

    The folder is looked at on each request, so a build made while the service runs is
    served without a restart.
    """
    files = StaticFiles(directory=directory, html=True, check_dir=False)
    missing = HTMLResponse(BROWSER_NOT_BUILT.format(dir=directory), status_code=503)

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not (directory / "index.html").is_file():
            await missing(scope, receive, send)
            return
        await files(scope, receive, send)

    return serve


def replica_set(settings: Settings, engine: AsyncEngine) -> ReplicaSet:
    """The primary ``engine`` and the configured hot standbys (engines made alike)."""
    database = settings.database
    return create_replica_set(
        engine, database.replica_urls,
        max_lag_seconds=database.replica_max_lag_seconds,
        check_seconds=database.replica_check_seconds,
        check_timeout_seconds=database.replica_check_timeout_seconds,
        pool_size=database.pool_size,
        statement_timeout_ms=database.statement_timeout_ms,
        parallel_workers_per_gather=database.parallel_workers_per_gather,
        pre_ping=database.pool_pre_ping,
        warm_up=True,
    )


def freeze_startup_objects() -> None:
    """Keep the objects alive at startup (modules, schemas, the ORM's metadata: some
    300,000) out of the cycle collector's full collections. Those scanned them all, a
    few times a minute under load: a page of 100 GraphQL items allocates tens of
    thousands of objects, and the full collections it triggered took a third of its
    time (issue 17)."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app: the STAC API at the root, GraphQL at /graphql, the browser at /browse."""
    settings = settings or Settings()
    engine = create_engine(
        settings.database.url,
        pool_size=settings.database.pool_size,
        statement_timeout_ms=settings.database.statement_timeout_ms,
        parallel_workers_per_gather=settings.database.parallel_workers_per_gather,
        pre_ping=settings.database.pool_pre_ping,
        # Requests count beside their page on a second connection (stac_compat.client).
        warm_up=True,
    )
    sessions = create_sessionmaker(engine)
    events = ItemEvents(settings.database.url)
    # Connects on first use; bounded waits so a write never hangs on a lost Redis.
    redis = Redis.from_url(settings.redis.url, socket_connect_timeout=5, socket_timeout=5)
    # Persisted queries: a slow Redis must cost a request less than resending its query.
    apq_redis = AsyncRedis.from_url(settings.redis.url, socket_connect_timeout=1, socket_timeout=1)
    queue = create_queue(redis, settings.workers.queues[0])
    store = create_asset_store(settings.storage.url, settings.storage.options)
    replicas = replica_set(settings, engine)
    read_sessions: async_sessionmaker[AsyncSession] = (
        RoutedSessions(replicas) if replicas.standbys else create_read_sessionmaker(engine)
    )
    operations = catalog_operations(settings, sessions, read_sessions, queue, store)
    verifier = jwt_verifier(settings)
    # Callers' last write times, shared by every API process (stacql.read_routing).
    marks = (
        AsyncRedis.from_url(settings.redis.url, socket_connect_timeout=1, socket_timeout=1)
        if replicas.standbys else None
    )

    usage = operations.searches.usage
    flusher = (
        UsageFlusher(usage, sessions, settings.api.usage_flush_seconds) if usage else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await replicas.start()
        if flusher is not None:
            flusher.start()
        freeze_startup_objects()
        yield
        gc.unfreeze()  # what this app leaves behind may be collected again
        if flusher is not None:
            await flusher.stop()
        await replicas.close()
        await events.close()
        redis.close()
        await apq_redis.aclose()
        if marks is not None:
            await marks.aclose()
        await engine.dispose()

    app = FastAPI(
        title="stacql",
        version="0.1.0",
        # The STAC sub-application mounted below serves the API description.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.replicas = replicas
    app.include_router(
        create_graphql_router(
            graphql_services(settings, sessions, events, queue, store, operations, verifier),
            persisted=persisted_queries(settings, apq_redis),
            caching=GetCaching(max_age=settings.graphql.get_max_age_seconds),
            # Relative to /graphql, so the page finds its files under any root path.
            ide=GraphiQLPage(settings.browser.dir / GRAPHIQL_FOLDER,
                             f"{BROWSER_PATH.lstrip('/')}/{GRAPHIQL_FOLDER}/"),
        ),
        prefix=GRAPHQL_PATH,
        include_in_schema=False,
    )
    app.mount(BROWSER_PATH, browser_app(settings.browser.dir), name="browser")

    @app.get(BROWSER_PATH, include_in_schema=False)
    async def browser_root(request: Request) -> RedirectResponse:
        # The STAC API mounted at the root would answer /browse with a 404 before
        # Starlette's trailing-slash redirect is tried.
        return RedirectResponse(request.url.replace(path=f"{BROWSER_PATH}/"), status_code=307)

    # Last: the STAC API answers every path the routes above do not.
    stac = create_stac_api(
        sessions,
        items=operations.items,
        collections=operations.collections,
        searches=operations.searches,
        read_sessions=read_sessions,
        jwt=verifier,
        max_body=settings.api.max_body_bytes,
        assets=operations.assets,
        tiles=operations.tiles,
        accel_redirect=settings.assets.accel_redirect,
        exports=operations.exports,
        saved_searches=operations.saved_searches,
        plain_searches=settings.api.plain_searches,
    )
    app.mount("/", stac)
    app.openapi = stac.openapi  # type: ignore[method-assign]
    for middleware in service_middlewares(settings.api.trust_forwarded):
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    # A file and its sidecar, plus room for the multipart envelope.
    upload_room = 2 * settings.graphql.max_upload_bytes + settings.api.max_body_bytes
    app.add_middleware(
        BodySizeLimit, max_bytes=upload_room, prefix=GRAPHQL_PATH,
        anonymous_max_bytes=SEARCH_MAX_BODY,
    )
    if marks is not None:
        app.add_middleware(ReadYourWrites, replicas=replicas, redis=marks)
    # Outermost: every link and href below is written for the URL fixed here.
    app.add_middleware(
        PublicUrl, public_url=settings.api.public_url,
        trust_forwarded=settings.api.trust_forwarded,
    )
    return app
