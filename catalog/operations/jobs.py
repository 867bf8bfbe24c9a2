"""Operations that queue work for the workers: an uploaded raster's item
(``uploadAsset``) and a static catalog's ingest (``ingestCatalog``).

Access is checked here, once; the queueing itself is a hook the composition root
injects (``JobHooks``), so ``catalog/`` knows nothing of the queue. Receiving the file
(multipart streaming, staging, storing) stays with the API that received it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import FetchPolicy, Principal, require_write, require_write_anywhere
from catalog.errors import InvalidInput, ServiceUnavailable
from catalog.jobs import JobRecord
from catalog.search.lookup import get_collection
from catalog.stac.common import check_id
from catalog.temporal import format_rfc3339


@dataclass(frozen=True)
class UploadedRaster:
    """A raster stored by an upload whose item a worker should build: the asset key and
    roles it goes under, and (once stored) its keys, size and checksum."""

    collection_id: str
    key: str
    item_id: str | None = None
    metadata_key: str | None = None
    asset_key: str = "data"
    datetime: str | None = None
    roles: tuple[str, ...] = ("data",)
    replace_item: bool = False
    # The stored raster's size and multihash, computed while it was received, so the
    # worker need not read the whole file again to fill file:checksum.
    file_size: int | None = None
    file_checksum: str | None = None


SubmitExtract = Callable[[UploadedRaster], Awaitable[JobRecord]]
SubmitIngest = Callable[[str, str | None], Awaitable[JobRecord]]
"""(href, collection id for items without one) -> the queued job."""


@dataclass(frozen=True)
class JobHooks:
    """How queued work reaches the workers; None where this server does not queue it."""

    submit_extract: SubmitExtract | None = None
    submit_ingest: SubmitIngest | None = None


def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput("datetime needs a time zone (e.g. a trailing Z)")
    return format_rfc3339(value)


class JobOperations:
    """Uploads and catalog ingests, for a caller allowed to write."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        hooks: JobHooks,
        fetch_policy: FetchPolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.hooks = hooks
        self.fetch_policy = fetch_policy or FetchPolicy()

    async def upload(
        self,
        principal: Principal,
        collection_id: str,
        filename: str,
        *,
        item_id: str | None = None,
        asset_key: str = "data",
        roles: tuple[str, ...] | list[str] | None = None,
        datetime: datetime | None = None,
        replace_item: bool = False,
    ) -> UploadedRaster:
        """The upload request of a raster named ``filename`` (already made safe) for
        ``principal``, checked before any byte is stored: ids, write access, the
        collection exists. ``key`` is the folder its files go in."""
        if self.hooks.submit_extract is None:
            raise ServiceUnavailable("uploads are not enabled on this server")
        check_id(collection_id, "collection")
        require_write(principal, collection_id)
        if item_id is not None:
            check_id(item_id, "item")
        check_id(asset_key, "asset key")
        async with self.sessions() as session:
            await get_collection(session, collection_id)
        return UploadedRaster(
            collection_id=collection_id,
            key=f"{collection_id}/{item_id or PurePosixPath(filename).stem}",
            item_id=item_id, asset_key=asset_key, roles=tuple(roles or ("data",)),
            datetime=_instant(datetime), replace_item=replace_item,
        )

    async def submit_upload(self, upload: UploadedRaster) -> JobRecord:
        """Queue the job that builds the item of a stored ``upload`` (from ``upload``)."""
        if self.hooks.submit_extract is None:
            raise ServiceUnavailable("uploads are not enabled on this server")
        return await self.hooks.submit_extract(upload)

    async def ingest_catalog(
        self, principal: Principal, href: str, collection_id: str | None = None
    ) -> JobRecord:
        """Queue the ingest of the static catalog (or ndjson) at ``href``; the caller must
        be allowed to write everywhere, and ``href`` pass the fetch policy."""
        require_write_anywhere(principal)
        if self.hooks.submit_ingest is None:
            raise ServiceUnavailable("catalog ingests are not enabled on this server")
        if not href.strip():
            raise InvalidInput("href is empty")
        return await self.hooks.submit_ingest(self.fetch_policy.check(href), collection_id)
