"""How long export files are kept: each finished export gets an expiry, and a cleanup
removes the files past it and marks their jobs ``expired`` (in the result; the status
stays ``finished``, a final state).

The expiry alone decides whether a file may still be downloaded
(:func:`is_expired`), so a file is refused from the moment it expires even if the
cleanup has not yet run; the cleanup only frees the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db.errors import translate_db_errors
from catalog.db.models import Job
from catalog.errors import NotFound
from catalog.export.formats import EXPORT_JOB_KIND
from catalog.jobs import FINISHED, JobRecord, job_uuid, mark_finished
from catalog.storage import AssetStore

DEFAULT_RETENTION = timedelta(days=7)
PURGED_PER_PASS = 100
"""Expired exports one cleanup transaction removes."""
EXPIRED_MESSAGE = "expired: its file was removed"


def is_expired(job: JobRecord, now: datetime | None = None) -> bool:
    """Whether the export's file is past its expiry (or already removed)."""
    if (job.result or {}).get("expired"):
        return True
    return job.expires_at is not None and job.expires_at <= (now or datetime.now(UTC))


async def finish_export(
    session: AsyncSession, job_id: uuid.UUID | str, result: Mapping[str, Any],
    message: str, retention: timedelta | None,
) -> JobRecord:
    """Mark the export finished and, with a ``retention``, give it its expiry (both in
    the caller's transaction, so no finished file is left without one)."""
    job = await mark_finished(session, job_id, result, message)
    if retention is None:
        return job
    with translate_db_errors():
        expires_at = (await session.execute(
            update(Job).where(Job.id == job_uuid(job_id))
            .values(expires_at=func.now() + retention).returning(Job.expires_at)
        )).scalar_one()
    return replace(job, expires_at=expires_at)


async def _take_expired(session: AsyncSession, limit: int) -> list[tuple[uuid.UUID, str | None]]:
    already = Job.result["expired"].astext.cast(Boolean)
    query = (
        select(Job.id, Job.result["key"].astext)
        .where(
            Job.expires_at <= func.now(), Job.kind == EXPORT_JOB_KIND, Job.status == FINISHED,
            func.coalesce(already, False).is_(False),
        )
        .order_by(Job.expires_at).limit(limit).with_for_update(skip_locked=True)
    )
    with translate_db_errors():
        return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def _mark_expired(session: AsyncSession, job_ids: list[uuid.UUID]) -> None:
    expired = Job.result.op("||")(func.jsonb_build_object("expired", True))
    with translate_db_errors():
        await session.execute(
            update(Job).where(Job.id.in_(job_ids))
            .values(result=expired, message=EXPIRED_MESSAGE, updated_at=func.now())
        )


async def purge_expired_exports(
    sessions: async_sessionmaker[AsyncSession], store: AssetStore,
    per_pass: int = PURGED_PER_PASS,
) -> int:
    """Remove the files of every export past its expiry and mark their jobs expired;
    returns how many. Rows are taken ``SKIP LOCKED``, so cleanups may run side by side;
    a file already gone counts as removed."""
    removed = 0
    while True:
        async with sessions() as session, session.begin():
            expired = await _take_expired(session, per_pass)
            for key in (key for _, key in expired if key):
                with suppress(NotFound):
                    await store.delete(key)
            if expired:
                await _mark_expired(session, [job_id for job_id, _ in expired])
        removed += len(expired)
        if len(expired) < per_pass:
            return removed
