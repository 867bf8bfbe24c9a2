"""Saved searches' webhooks: the match job and the delivery job (the worker's companion
process queues the match job when items were written: ``workers.companions``).

``match_saved_searches`` consumes the changes and deletions the ``items`` triggers
queue (``catalog.saved.match_changes``) and queues one ``deliver_saved_search`` per
saved search that got notices (``item.changed`` or ``item.deleted``, the
``X-Stacql-Event`` header and the body's ``event``). That job posts the search's
pending notices in order, signed (``X-Stacql-Signature``), at least once: a failed
post is recorded in the delivery log and retried after the configured backoff through
RQ's scheduler, and a notice that fails for good (after ``max_attempts``) is marked
``failed`` so the next ones go on. Redirects are not followed, and the URL passes the
fetch policy again before each post (its host may resolve elsewhere since it was saved).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson
from rq import Queue, get_current_job
from rq.serializers import JSONSerializer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.errors import CatalogError
from catalog.saved import (
    SIGNATURE_HEADER,
    DueNotice,
    delivery_lock,
    match_changes,
    next_notice,
    notice_payload,
    record_delivered,
    record_failure,
    signature,
)
from workers.context import NotifyConfig, WorkerConfig, current_config

log = logging.getLogger(__name__)

DELIVER_FUNCTION = "workers.notify.deliver_saved_search"
NOTICES_PER_JOB = 50
"""Notices one delivery job sends before it makes way for other saved searches."""
BUSY_RETRY_SECONDS = 1.0
"""When another worker is delivering the same saved search: look again this much later."""
JOB_TIMEOUT = 15 * 60
USER_AGENT = "stacql-webhooks/1"

Sessions = async_sessionmaker[AsyncSession]


def _enqueue_delivery(queue: Queue, search_id: str, delay: float = 0.0) -> None:
    if delay <= 0:
        queue.enqueue_call(
            DELIVER_FUNCTION, args=(search_id,), timeout=JOB_TIMEOUT, result_ttl=60,
            failure_ttl=24 * 3600, description=f"deliver notices of saved search {search_id}",
        )
        return
    # One scheduled retry per moment: retries asked for twice share a job id.
    due = int(time.time() + delay)
    queue.enqueue_in(
        timedelta(seconds=delay), DELIVER_FUNCTION, search_id,
        job_id=f"stacql-deliver-{search_id}-{due}", job_timeout=JOB_TIMEOUT, result_ttl=60,
        failure_ttl=24 * 3600,
    )


def _current_queue() -> Queue:
    job = get_current_job()
    if job is None:
        raise RuntimeError("saved-search jobs run in a stacql worker")
    return Queue(job.origin, connection=job.connection, serializer=JSONSerializer)


async def _with_sessions(config: WorkerConfig, work: Any) -> Any:
    engine = create_engine(config.database_url, pool_size=1)
    try:
        return await work(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _match_all(sessions: Sessions) -> dict[str, int]:
    notices: dict[str, int] = {}
    while True:
        async with sessions() as session, session.begin():
            report = await match_changes(session)
        for search_id, count in report.notices.items():
            notices[str(search_id)] = notices.get(str(search_id), 0) + count
        if not report.changes:
            return notices


def match_saved_searches() -> dict[str, int]:
    """RQ job: match every written item waiting, then queue the delivery of each saved
    search that got notices; returns the new notices per saved search."""
    config = current_config()
    notices = asyncio.run(_with_sessions(config, _match_all))
    queue = _current_queue()
    for search_id in notices:
        _enqueue_delivery(queue, search_id)
    return notices


@dataclass(frozen=True)
class PostResult:
    """How a receiver answered: its HTTP status (None without one) and what went wrong."""

    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        """Whether the receiver took the notice (a 2xx answer)."""
        return self.error is None


async def post_notice(
    client: httpx.AsyncClient, notify: NotifyConfig, due: DueNotice, body: bytes
) -> PostResult:
    """Post a signed notice to its saved search's webhook."""
    url = due.search.webhook_url or ""
    try:
        await asyncio.to_thread(notify.fetch_policy.check, url)
    except CatalogError as exc:
        return PostResult(None, f"{exc.code}: {exc.message}")
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        SIGNATURE_HEADER: signature(due.search.secret, int(time.time()), body),
        "X-Stacql-Notice": str(due.notice.id),
        "X-Stacql-Event": due.notice.event,
    }
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return PostResult(None, f"{type(exc).__name__}: {exc}")
    if 200 <= response.status_code < 300:
        return PostResult(response.status_code, None)
    return PostResult(response.status_code, f"the receiver answered {response.status_code}")


async def _deliver_one(
    sessions: Sessions, client: httpx.AsyncClient, notify: NotifyConfig, search_id: uuid.UUID
) -> float | None:
    """Send the next due notice (the caller holds the search's delivery lock). Returns
    None when there is nothing to send now, 0 to go on, or the seconds after which to
    look again."""
    async with sessions() as session:
        due = await next_notice(session, search_id)
        if due is None:
            return None
        if due.wait > 0:
            return due.wait
        body = orjson.dumps(await notice_payload(session, due))
    result = await post_notice(client, notify, due, body)
    async with sessions() as session, session.begin():
        if result.ok:
            await record_delivered(session, due.notice.id, result.status or 0)
            return 0.0
        delay = await record_failure(session, due, result.status, result.error or "", notify.retry)
    log.info("notice %s of saved search %s: %s", due.notice.id, search_id, result.error)
    return 0.0 if delay is None else delay


async def _deliver(config: WorkerConfig, search_id: uuid.UUID) -> float | None:
    notify = config.notify
    timeout = httpx.Timeout(notify.timeout)
    engine = create_engine(config.database_url, pool_size=2)
    sessions = create_sessionmaker(engine)
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
            delivery_lock(engine, search_id) as locked,
        ):
            if not locked:
                return BUSY_RETRY_SECONDS
            for _ in range(NOTICES_PER_JOB):
                wait = await _deliver_one(sessions, client, notify, search_id)
                if wait is None or wait > 0:
                    return wait
            return 0.0
    finally:
        await engine.dispose()


def deliver_saved_search(saved_search_id: str) -> str:
    """RQ job: post the due notices of one saved search in order; schedules itself again
    for a retry or for the notices left."""
    config = current_config()
    wait = asyncio.run(_deliver(config, uuid.UUID(saved_search_id)))
    if wait is None:
        return "idle"
    _enqueue_delivery(_current_queue(), saved_search_id, wait)
    return f"again in {wait:.1f} s"
