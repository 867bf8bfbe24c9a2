"""What every resolver gets: the services stacql wires in, and per-request loaders.

``graphql_api`` never imports ``workers`` or ``stac_compat``: uploads and catalog ingests
are handed to callables the composition root (``stacql.app``) provides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.fastapi import BaseContext

from catalog.jobs import JobRecord
from catalog.storage import AssetStore
from graphql_api.events import ItemEvents
from graphql_api.loaders import Loaders


@dataclass(frozen=True)
class Limits:
    """Guards against expensive or hostile operations."""

    default_page_size: int = 10
    max_page_size: int = 1000
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_upload_bytes: int = 2 * 1024**3


@dataclass(frozen=True)
class UploadedRaster:
    """A raster stored by ``uploadAsset`` whose item a worker should build."""

    collection_id: str
    key: str
    item_id: str | None = None
    metadata_key: str | None = None
    asset_key: str = "data"
    datetime: str | None = None
    roles: tuple[str, ...] = ("data",)


SubmitExtract = Callable[[UploadedRaster], Awaitable[JobRecord]]
SubmitIngest = Callable[[str], Awaitable[JobRecord]]


@dataclass(frozen=True)
class Services:
    """Long-lived dependencies of the GraphQL API, shared by every request."""

    sessions: async_sessionmaker[AsyncSession]
    limits: Limits = field(default_factory=Limits)
    store: AssetStore | None = None
    submit_extract: SubmitExtract | None = None
    submit_ingest: SubmitIngest | None = None
    events: ItemEvents | None = None


class Context(BaseContext):
    """The per-request context: services, the API's base URL and fresh dataloaders."""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.loaders = Loaders(services.sessions)

    @property
    def base_url(self) -> str:
        """The API root as clients reach it (proxy headers and root path applied)."""
        assert self.request is not None
        return str(self.request.base_url)
