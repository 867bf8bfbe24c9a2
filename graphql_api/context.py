"""What every resolver gets: the services stacql wires in, and per-request loaders.

``graphql_api`` never imports ``workers`` or ``stac_compat``: uploads and catalog ingests
are handed to callables the composition root (``stacql.app``) provides.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.fastapi import BaseContext

from catalog.access import (
    ANONYMOUS,
    FetchPolicy,
    JwtVerifier,
    Principal,
    authenticate,
    credential_of,
)
from catalog.assets import AssetUrls
from catalog.operations import (
    AssetOperations,
    CollectionOperations,
    ExportOperations,
    ItemOperations,
    JobOperations,
    SavedSearchOperations,
    SearchOperations,
)
from catalog.storage import AssetStore
from graphql_api.events import ItemEvents
from graphql_api.loaders import Loaders


@dataclass(frozen=True)
class Limits:
    """Guards against expensive or hostile operations (and how fields are executed)."""

    default_page_size: int = 10
    max_page_size: int = 1000
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_fields: int = 1000
    max_cost: int = 200_000
    assumed_list_size: int = 10
    """Entries counted for a list of objects without a size argument (item assets)."""
    report_cost: bool = False
    """Put every response's cost in ``extensions.cost`` (else only when asked for)."""
    max_statements: int = 20
    max_upload_bytes: int = 2 * 1024**3
    max_upload_pixels: int = 50_000 * 50_000
    leaf_shortcut: bool = True
    """Resolve plain leaf fields in one step (``graphql_api.execution``); False: through
    graphql-core's per-field path, with the same answers (kept to compare them)."""


@dataclass(frozen=True)
class Services:
    """Long-lived dependencies of the GraphQL API, shared by every request.

    Reads and writes go through the operations (``items``, ``collections``,
    ``searches``), which check the caller's rights and run the post-write hooks the
    STAC API runs too. ``sessions`` serve the rest (jobs, loaders, uploads)."""

    sessions: async_sessionmaker[AsyncSession]
    items: ItemOperations
    collections: CollectionOperations
    searches: SearchOperations
    limits: Limits = field(default_factory=Limits)
    store: AssetStore | None = None
    jobs: JobOperations | None = None
    """Uploads and catalog ingests (None: not enabled on this server)."""
    events: ItemEvents | None = None
    jwt: JwtVerifier | None = None
    fetch_policy: FetchPolicy = field(default_factory=FetchPolicy)
    assets: AssetOperations | None = None
    checksum: str = "sha2-256"
    """The hash function of an upload's ``file:checksum`` (``catalog.checksums``)."""
    saved_searches: SavedSearchOperations | None = None
    exports: ExportOperations | None = None


def _header(source: Any, name: str) -> str | None:
    if not source:
        return None
    for key, value in dict(source).items():
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return None


class Context(BaseContext):
    """The per-request context: services, the caller, the API's base URL, fresh loaders."""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self._principal: Principal | None = None
        self._asset_urls: AssetUrls | None = None
        self.loaders = Loaders(services.sessions, self.readable_private)

    async def principal(self) -> Principal:
        """The caller, from ``Authorization: Bearer`` or ``X-API-Key`` (HTTP headers, or
        the ``connection_init`` payload of a WebSocket); anonymous without either."""
        if self._principal is None:
            headers = self.request.headers if self.request is not None else {}
            params = self.connection_params if isinstance(self.connection_params, dict) else {}
            token = credential_of(
                _header(headers, "authorization") or _header(params, "authorization"),
                _header(headers, "x-api-key") or _header(params, "x-api-key"),
            )
            if token is None:
                self._principal = ANONYMOUS
            else:
                async with self.services.sessions() as session:
                    self._principal = await authenticate(session, token, self.services.jwt)
        return self._principal

    async def readable_private(self) -> frozenset[str] | None:
        """The private collections the caller may read (None: all of them)."""
        return (await self.principal()).readable_private

    def asset_urls_now(self) -> AssetUrls | Awaitable[AssetUrls | None] | None:
        """``asset_urls()`` at once when it is known already, else its awaitable."""
        if self.services.assets is None or self._asset_urls is not None:
            return self._asset_urls
        return self.asset_urls()

    async def asset_urls(self) -> AssetUrls | None:
        """The rewriter of stored assets' hrefs for this caller (None: hrefs as stored)."""
        if self.services.assets is None:
            return None
        if self._asset_urls is None:
            self._asset_urls = await self.services.assets.urls(
                self.base_url, await self.principal()
            )
        return self._asset_urls

    @property
    def base_url(self) -> str:
        """The API root as clients reach it (proxy headers and root path applied)."""
        assert self.request is not None
        return str(self.request.base_url)
