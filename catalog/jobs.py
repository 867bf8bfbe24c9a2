"""The ``jobs`` table: the record of truth for every upload or ingest request.

A job moves ``queued`` → ``started`` → ``finished`` or ``failed``; a retry after a
transient error puts a started job back to ``queued``. ``finished`` and ``failed`` are
final: nothing moves a job out of them. Every function takes the session first and
never commits; the caller owns the transaction (a worker commits each progress step on
its own so clients see it at once).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.db.models import Collection as CollectionRow
from catalog.db.models import Job
from catalog.errors import Conflict, InvalidInput, NotFound

QUEUED = "queued"
STARTED = "started"
FINISHED = "finished"
FAILED = "failed"
STATUSES = (QUEUED, STARTED, FINISHED, FAILED)
FINAL_STATUSES = frozenset({FINISHED, FAILED})

_COLUMNS = (
    Job.id, Job.kind, Job.status, Job.progress, Job.message, Job.error, Job.params,
    Job.result, Job.created_at, Job.updated_at, Job.expires_at,
)


@dataclass(frozen=True)
class JobRecord:
    """One row of the jobs table; ``progress`` is a fraction in [0, 1]."""

    id: uuid.UUID
    kind: str
    status: str
    progress: float
    message: str | None
    error: str | None
    params: dict[str, Any]
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    """When the job's output is removed (exports; None: kept)."""

    @property
    def is_final(self) -> bool:
        """Whether the job has finished or failed (nothing changes it any more)."""
        return self.status in FINAL_STATUSES


def job_uuid(job_id: uuid.UUID | str) -> uuid.UUID:
    """``job_id`` as a UUID; raises ``InvalidInput`` for anything else."""
    if isinstance(job_id, uuid.UUID):
        return job_id
    try:
        return uuid.UUID(str(job_id))
    except ValueError as exc:
        raise InvalidInput(f"job id {job_id!r} is not a UUID") from exc


def _record(row: Any) -> JobRecord:
    return JobRecord(**row._mapping)


async def create_job(
    session: AsyncSession,
    kind: str,
    params: Mapping[str, Any] | None = None,
    job_id: uuid.UUID | str | None = None,
) -> JobRecord:
    """Insert a ``queued`` job; a random id is drawn unless ``job_id`` is given.

    ``params`` must be JSON-serializable: they are what the worker receives. Raises
    ``Conflict`` when a job with that id exists.
    """
    if not kind:
        raise InvalidInput("a job needs a kind")
    values = {
        "id": job_uuid(job_id) if job_id is not None else uuid.uuid4(),
        "kind": kind,
        "status": QUEUED,
        "progress": 0.0,
        "params": dict(params or {}),
    }
    with translate_db_errors():
        row = (await session.execute(insert(Job).values(**values).returning(*_COLUMNS))).one()
    return _record(row)


def _of_hidden_collection(readable_private: frozenset[str]) -> ColumnElement[bool]:
    """The job works on a private collection that is not in ``readable_private``."""
    hidden = select(CollectionRow.id).where(
        CollectionRow.id == Job.params["collection_id"].astext, CollectionRow.private,
        CollectionRow.id.not_in(sorted(readable_private)) if readable_private else true(),
    )
    return hidden.exists()


async def get_job(
    session: AsyncSession,
    job_id: uuid.UUID | str,
    readable_private: frozenset[str] | None = None,
) -> JobRecord:
    """The job with that id; raises ``NotFound``, also for a job on a private collection
    the caller may not read (``readable_private``: those it may; None: all)."""
    key = job_uuid(job_id)
    query = select(*_COLUMNS).where(Job.id == key)
    if readable_private is not None:
        query = query.where(~_of_hidden_collection(readable_private))
    with translate_db_errors():
        row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"no job {key}")
    return _record(row)


async def _transition(
    session: AsyncSession,
    job_id: uuid.UUID | str,
    allowed_from: Collection[str],
    action: str,
    **values: Any,
) -> JobRecord:
    """Update a job whose status is one of ``allowed_from``; ``NotFound`` when it does
    not exist, ``Conflict`` when its status forbids the change."""
    key = job_uuid(job_id)
    statement = (
        update(Job)
        .where(Job.id == key, Job.status.in_(list(allowed_from)))
        .values(**values, updated_at=func.now())
        .returning(*_COLUMNS)
    )
    with translate_db_errors():
        row = (await session.execute(statement)).one_or_none()
    if row is not None:
        return _record(row)
    current = await get_job(session, key)
    raise Conflict(f"job {key} is {current.status}; it cannot be {action}")


async def mark_started(
    session: AsyncSession, job_id: uuid.UUID | str, message: str | None = None
) -> JobRecord:
    """A worker took the job (again, for a retry): status ``started``, progress 0."""
    return await _transition(
        session, job_id, (QUEUED, STARTED), "started",
        status=STARTED, progress=0.0, message=message, error=None,
    )


async def set_progress(
    session: AsyncSession,
    job_id: uuid.UUID | str,
    progress: float,
    message: str | None = None,
) -> JobRecord:
    """Record how far a started job is, as a fraction in [0, 1], and what it does."""
    if not (isinstance(progress, int | float) and math.isfinite(progress)) or not (
        0.0 <= progress <= 1.0
    ):
        raise InvalidInput(f"job progress must lie within [0, 1], got {progress!r}")
    return await _transition(
        session, job_id, (STARTED,), "given progress", progress=float(progress), message=message
    )


async def mark_requeued(session: AsyncSession, job_id: uuid.UUID | str, error: str) -> JobRecord:
    """A transient error stopped the job and it will run again: back to ``queued``,
    keeping the error so clients see why it waits."""
    return await _transition(
        session, job_id, (QUEUED, STARTED), "requeued",
        status=QUEUED, message="waiting to retry after a transient error", error=error,
    )


async def mark_finished(
    session: AsyncSession,
    job_id: uuid.UUID | str,
    result: Mapping[str, Any],
    message: str | None = None,
) -> JobRecord:
    """The job succeeded: status ``finished``, progress 1, and its JSON ``result``."""
    return await _transition(
        session, job_id, (STARTED,), "finished",
        status=FINISHED, progress=1.0, result=dict(result), message=message, error=None,
    )


async def mark_failed(
    session: AsyncSession, job_id: uuid.UUID | str, error: str, message: str | None = None
) -> JobRecord:
    """The job failed for good: status ``failed`` with the reason in ``error``."""
    if not error:
        raise InvalidInput("a failed job needs an error message")
    return await _transition(
        session, job_id, (QUEUED, STARTED), "failed",
        status=FAILED, error=error, message=message,
    )


async def list_jobs(
    session: AsyncSession, kind: str, params: Mapping[str, Any], limit: int = 100
) -> list[JobRecord]:
    """The latest ``limit`` jobs of ``kind`` whose params hold ``params``, newest first."""
    query = (
        select(*_COLUMNS)
        .where(Job.kind == kind, Job.params.contains(dict(params)))
        .order_by(Job.created_at.desc(), Job.id)
        .limit(limit)
    )
    with translate_db_errors():
        rows = (await session.execute(query)).all()
    return [_record(row) for row in rows]
