"""An httpx client on the real app (``create_app``), through the ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from stacql.app import create_app
from stacql.settings import Settings


@asynccontextmanager
async def app_client(
    settings: Settings, headers: dict[str, str] | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app and a client on it; the app's connection pool is closed on exit (the ASGI
    transport runs no lifespan, and leaked pools would exhaust the server's connections)."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://stacql.test", headers=headers or {}
        ) as client:
            yield app, client
    finally:
        await app.state.replicas.close()
        await app.state.engine.dispose()
