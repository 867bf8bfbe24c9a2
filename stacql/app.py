"""The composition root: ``create_app(settings)`` builds the service's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from catalog.db import create_engine, create_sessionmaker
from stac_compat import create_stac_api
from stac_compat.middleware import JsonBodyGuard
from stacql.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app: the STAC API at the root (GraphQL joins it at /graphql)."""
    settings = settings or Settings()
    engine = create_engine(
        settings.database.url,
        pool_size=settings.database.pool_size,
        statement_timeout_ms=settings.database.statement_timeout_ms,
    )
    sessions = create_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(
        title="stacql",
        version="0.1.0",
        openapi_url="/api",
        docs_url="/api.html",
        redoc_url=None,
        lifespan=lifespan,
    )
    create_stac_api(app, sessions, max_limit=settings.api.max_limit)
    app.add_middleware(JsonBodyGuard, max_body=settings.api.max_body_bytes)
    return app
