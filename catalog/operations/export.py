"""Export operations both APIs and the command line call: start an export of a search,
follow it, and download its file, under the catalog's access rules.

An export needs credentials (it runs on the workers for as long as the search takes).
Its job and file are visible to its owner (the API key, or the token's subject, that
started it) and, once finished, to any caller with credentials that may read every
collection the file holds items of; to anyone else it does not exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access.principal import Principal
from catalog.access.visibility import private_collections
from catalog.assets import Delivery, StoredAsset, deliver
from catalog.errors import (
    Conflict,
    ExportExpired,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from catalog.export import ExportSpec, owner_of
from catalog.export.formats import EXPORT_JOB_KIND
from catalog.export.retention import is_expired
from catalog.jobs import FINISHED, JobRecord, get_job, job_uuid, list_jobs
from catalog.storage import AssetStore
from catalog.temporal import format_rfc3339

SubmitExport = Callable[[ExportSpec], Awaitable[JobRecord]]
"""Queues an export job (the composition root wires it to the workers' queue)."""
LISTED_EXPORTS = 100
"""Exports listed per caller, newest first."""


class ExportOperations:
    """Exports of search results to files in ``store``, run by ``submit``'s workers."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: AssetStore,
        submit: SubmitExport | None,
        *,
        url_ttl: timedelta = timedelta(hours=1),
        sign_object_urls: bool = True,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.submit = submit
        self.url_ttl = url_ttl
        self.sign_object_urls = sign_object_urls

    async def start(
        self,
        principal: Principal,
        search: Mapping[str, Any],
        format: str | None = None,
        base_url: str | None = None,
    ) -> JobRecord:
        """Queue the export of every item ``search`` (a STAC search body) matches for
        ``principal``; returns the ``queued`` job. ``Unauthorized`` without credentials,
        ``InvalidInput`` subclasses for a bad search or format (nothing is queued)."""
        if principal.is_anonymous:
            raise Unauthorized("exports need an API key or token")
        spec = await asyncio.to_thread(ExportSpec.of, principal, search, format, base_url)
        if self.submit is None:
            raise ServiceUnavailable("exports are not enabled on this server")
        return await self.submit(spec)

    async def _may_read(self, session: AsyncSession, principal: Principal, job: JobRecord) -> bool:
        if principal.is_anonymous:
            return False
        if job.params.get("owner") == owner_of(principal):
            return True
        if job.status != FINISHED:
            return False
        held = set((job.result or {}).get("collections") or [])
        private = held & await private_collections(session)
        return all(principal.may_read_private(c) for c in private)

    async def job(self, principal: Principal, job_id: str) -> JobRecord:
        """The export job ``job_id`` if ``principal`` may see it; ``NotFound`` otherwise
        (also for a job that is not an export)."""
        async with self.sessions() as session:
            try:
                job = await get_job(session, job_uuid(job_id))
            except NotFound:
                job = None
            if job is None or job.kind != EXPORT_JOB_KIND or not await self._may_read(
                session, principal, job
            ):
                raise NotFound(f"no export {job_id}")
        return job

    async def list(self, principal: Principal) -> list[JobRecord]:
        """The caller's own exports, newest first (none without credentials)."""
        if principal.is_anonymous:
            return []
        async with self.sessions() as session:
            return await list_jobs(
                session, EXPORT_JOB_KIND, {"owner": owner_of(principal)}, LISTED_EXPORTS
            )

    async def open(self, principal: Principal, job_id: str) -> Delivery:
        """How to send the file of export ``job_id`` to ``principal``: ``NotFound`` as
        for :meth:`job`, ``Conflict`` while the export has not finished,
        ``ExportExpired`` once its file is past its expiry."""
        job = await self.job(principal, job_id)
        result = job.result or {}
        if job.status != FINISHED or not result.get("key"):
            raise Conflict(f"export {job_id} is {job.status}; its file is not ready")
        if is_expired(job):
            when = f" at {format_rfc3339(job.expires_at)}" if job.expires_at else ""
            raise ExportExpired(
                f"export {job_id} expired{when}; its file was removed (export again)"
            )
        stored = StoredAsset(
            collection_id="", item_id=str(job.id), key="file", store_key=result["key"],
            media_type=result.get("media_type"),
        )
        return await deliver(
            self.store, stored, sign_urls=self.sign_object_urls, expires_in=self.url_ttl
        )
