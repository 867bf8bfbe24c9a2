"""The composition root: ``create_app(settings)`` builds the service's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_read_sessionmaker, create_sessionmaker
from catalog.jobs import JobRecord
from catalog.storage import create_asset_store
from graphql_api import ItemEvents, Limits, Services, UploadedRaster, create_graphql_router
from graphql_api.body_limit import BodySizeLimit
from stac_compat import create_stac_api
from stac_compat.middleware import JsonBodyGuard
from stacql.settings import Settings
from workers.queue import ExtractRequest, create_queue, enqueue_extract

GRAPHQL_PATH = "/graphql"


def graphql_services(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], events: ItemEvents
) -> Services:
    """What the GraphQL API needs, wired to the asset store and the RQ queue."""
    queue = create_queue(Redis.from_url(settings.redis.url), settings.workers.queues[0])

    async def submit_extract(upload: UploadedRaster) -> JobRecord:
        request = ExtractRequest(
            collection_id=upload.collection_id, key=upload.key, item_id=upload.item_id,
            metadata_key=upload.metadata_key, datetime=upload.datetime,
        )
        return await enqueue_extract(sessions, queue, request)

    return Services(
        sessions=sessions,
        limits=Limits(**settings.graphql.model_dump()),
        store=create_asset_store(settings.storage.url),
        submit_extract=submit_extract,
        events=events,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app: the STAC API at the root and GraphQL at /graphql."""
    settings = settings or Settings()
    engine = create_engine(
        settings.database.url,
        pool_size=settings.database.pool_size,
        statement_timeout_ms=settings.database.statement_timeout_ms,
        parallel_workers_per_gather=settings.database.parallel_workers_per_gather,
        pre_ping=settings.database.pool_pre_ping,
    )
    sessions = create_sessionmaker(engine)
    events = ItemEvents(settings.database.url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await events.close()
        await engine.dispose()

    app = FastAPI(
        title="stacql",
        version="0.1.0",
        openapi_url="/api",
        docs_url="/api.html",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.include_router(
        create_graphql_router(graphql_services(settings, sessions, events)),
        prefix=GRAPHQL_PATH,
        include_in_schema=False,
    )
    create_stac_api(
        app, sessions, max_limit=settings.api.max_limit,
        read_sessions=create_read_sessionmaker(engine),
    )
    app.add_middleware(
        JsonBodyGuard, max_body=settings.api.max_body_bytes, skip_prefixes=(GRAPHQL_PATH,)
    )
    # A file and its sidecar, plus room for the multipart envelope.
    upload_room = 2 * settings.graphql.max_upload_bytes + settings.api.max_body_bytes
    app.add_middleware(BodySizeLimit, max_bytes=upload_room, prefix=GRAPHQL_PATH)
    return app
