"""Enqueueing: what the APIs call to turn a request into a ``jobs`` row and an RQ job.

The row is committed first and the RQ job gets its id (``job_id = jobs.id``, with
``unique=True`` so the same job cannot be queued twice), so a worker never runs a job
its row does not describe. Jobs travel as JSON (RQ's default, pickle, would let whoever
writes to Redis run code in the workers) with explicit timeouts and time-to-lives.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.jobs import JobRecord, create_job, mark_failed
from catalog.stac.common import check_id
from catalog.storage import check_key
from catalog.temporal import parse_rfc3339
from workers.errors import QueueUnavailable

DEFAULT_QUEUE = "stacql"
EXTRACT_KIND = "extract_item"
EXTRACT_FUNCTION = "workers.jobs.extract_item"


@dataclass(frozen=True)
class JobPolicy:
    """RQ limits of a job, in seconds: how long it may run, how long RQ keeps its
    result or failure (the ``jobs`` row stays regardless)."""

    timeout: int = 15 * 60
    result_ttl: int = 24 * 3600
    failure_ttl: int = 7 * 24 * 3600


@dataclass(frozen=True)
class ExtractRequest:
    """Build the item of a raster stored at ``key`` in the asset store.

    ``metadata_key`` names the provider's metadata record stored beside it (a NAIP
    FGDC file); ``datetime`` (RFC 3339) and ``item_id`` override what extraction finds.
    """

    collection_id: str
    key: str
    item_id: str | None = None
    datetime: str | None = None
    metadata_key: str | None = None

    def checked(self) -> ExtractRequest:
        """The request with its keys normalized; raises ``InvalidInput`` subclasses for
        a bad collection or item id, storage key or datetime."""
        check_id(self.collection_id, "collection")
        if self.item_id is not None:
            check_id(self.item_id, "item")
        if self.datetime is not None:
            parse_rfc3339(self.datetime, field="datetime")
        metadata = check_key(self.metadata_key) if self.metadata_key is not None else None
        return ExtractRequest(
            self.collection_id, check_key(self.key), self.item_id, self.datetime, metadata
        )

    def params(self) -> dict[str, Any]:
        """The request as the JSON the ``jobs`` row and the RQ job carry."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def create_queue(connection: Redis, name: str = DEFAULT_QUEUE) -> Queue:
    """The RQ queue ``name`` on ``connection``, with the JSON serializer."""
    return Queue(name, connection=connection, serializer=JSONSerializer)


def _enqueue(queue: Queue, job: JobRecord, function: str, policy: JobPolicy) -> None:
    queue.enqueue_call(
        function,
        kwargs={"job_id": str(job.id), **job.params},
        job_id=str(job.id),
        unique=True,
        timeout=policy.timeout,
        result_ttl=policy.result_ttl,
        failure_ttl=policy.failure_ttl,
        description=f"{job.kind} {job.id}",
    )


async def submit_job(
    sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    kind: str,
    function: str,
    params: dict[str, Any],
    policy: JobPolicy | None = None,
) -> JobRecord:
    """Commit a ``queued`` jobs row, then enqueue ``function(job_id=..., **params)``.

    When Redis refuses the job the row is marked failed and ``QueueUnavailable`` is
    raised, so no row waits for a job that does not exist.
    """
    async with sessions() as session, session.begin():
        job = await create_job(session, kind, params)
    try:
        await asyncio.to_thread(_enqueue, queue, job, function, policy or JobPolicy())
    except RedisError as exc:
        async with sessions() as session, session.begin():
            await mark_failed(session, job.id, f"the job could not be queued: {exc}")
        raise QueueUnavailable(f"job {job.id} could not be queued: {exc}") from exc
    return job


async def enqueue_extract(
    sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    request: ExtractRequest,
    policy: JobPolicy | None = None,
) -> JobRecord:
    """Queue the extraction of an uploaded raster; returns its ``queued`` job at once.

    Raises ``InvalidInput`` subclasses for a malformed request (nothing is written)
    and ``QueueUnavailable`` when Redis cannot take the job.
    """
    checked = request.checked()
    return await submit_job(
        sessions, queue, EXTRACT_KIND, EXTRACT_FUNCTION, checked.params(), policy
    )
