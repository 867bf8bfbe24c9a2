"""The composition root: ``create_app(settings)`` builds the service's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from redis import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.storage import create_asset_store
from stac_compat import create_stac_api
from stac_compat.middleware import JsonBodyGuard
from stac_compat.transactions import ItemHook
from stacql.settings import Settings
from workers import create_queue
from workers.completion import enqueue_item_completion


def _completion_hook(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], redis: Redis
) -> ItemHook:
    """Items written through STAC Transactions whose raster in our storage lacks its
    metadata get an extraction job (``workers.completion``)."""
    store = create_asset_store(settings.storage.url)
    queue = create_queue(redis, settings.workers.queues[0])

    async def hook(item: dict[str, Any]) -> list[str]:
        job = await enqueue_item_completion(sessions, queue, store, item)
        return [str(job.id)] if job is not None else []

    return hook


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app: the STAC API at the root (GraphQL joins it at /graphql)."""
    settings = settings or Settings()
    engine = create_engine(
        settings.database.url,
        pool_size=settings.database.pool_size,
        statement_timeout_ms=settings.database.statement_timeout_ms,
    )
    sessions = create_sessionmaker(engine)
    # Connects on first use; bounded waits so a write never hangs on a lost Redis.
    redis = Redis.from_url(settings.redis.url, socket_connect_timeout=5, socket_timeout=5)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        redis.close()
        await engine.dispose()

    app = FastAPI(
        title="stacql",
        version="0.1.0",
        openapi_url="/api",
        docs_url="/api.html",
        redoc_url=None,
        lifespan=lifespan,
    )
    create_stac_api(
        app, sessions, max_limit=settings.api.max_limit,
        after_item_write=_completion_hook(settings, sessions, redis),
    )
    app.add_middleware(JsonBodyGuard, max_body=settings.api.max_body_bytes)
    return app
