"""The delivery side of notices, without the HTTP: which notice of a saved search goes
next, what it says, and how its attempt went.

Notices of one saved search go out one at a time in id order: a notice is not sent
before the ones ahead of it are delivered or given up. An advisory lock per saved search
(``delivery_lock``) keeps two workers from sending the same search's notices.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.saved.matching import DELETED
from catalog.saved.records import NoticeRecord, SavedSearchRecord
from catalog.saved.store import get_saved_search, notices
from catalog.search.render import item_json, items

NOTICE_TYPE = "stacql.saved_search.items"
ERROR_TEXT_LIMIT = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How webhook deliveries are retried: seconds before each retry (the last interval
    repeats) and attempts in all before a notice is given up."""

    intervals: tuple[float, ...] = (5, 30, 120, 600, 1800)
    max_attempts: int = 8

    def delay(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts."""
        return self.intervals[min(attempts, len(self.intervals)) - 1]


@dataclass(frozen=True)
class DueNotice:
    """The next notice of a saved search, when it may be sent (``due_at``), and the
    search it belongs to."""

    notice: NoticeRecord
    search: SavedSearchRecord
    now: datetime

    @property
    def wait(self) -> float:
        """Seconds until the notice may be sent (0 when it is due)."""
        return max(0.0, (self.notice.next_attempt_at - self.now).total_seconds())


@asynccontextmanager
async def delivery_lock(engine: AsyncEngine, search_id: uuid.UUID) -> AsyncIterator[bool]:
    """Hold the delivery lock of a saved search (True) while the context is open, or
    yield False when another worker holds it. A session-level advisory lock on a
    connection of its own: no transaction stays open while receivers answer, so slow
    webhooks never hold table locks."""
    key = func.hashtextextended(str(search_id), 0)
    with translate_db_errors():
        connection = await engine.connect()
    try:
        with translate_db_errors():
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            lock = await connection.execute(select(func.pg_try_advisory_lock(key)))
            locked = bool(lock.scalar())
        yield locked
        if locked:
            with translate_db_errors():
                await connection.execute(select(func.pg_advisory_unlock(key)))
    finally:
        # Closing the connection ends its session, which releases the lock anyway.
        await connection.close()


async def next_notice(session: AsyncSession, search_id: uuid.UUID) -> DueNotice | None:
    """The oldest pending notice of a saved search with a webhook, or None."""
    with translate_db_errors():
        search = await get_saved_search(session, search_id)
        if search is None or search.webhook_url is None:
            return None
        row = (await session.execute(
            select(notices, func.clock_timestamp().label("now"))
            .where(notices.c.saved_search_id == search_id, notices.c.status == "pending")
            .order_by(notices.c.id).limit(1)
        )).one_or_none()
    if row is None:
        return None
    return DueNotice(NoticeRecord.from_row(row), search, row.now)


async def notice_payload(session: AsyncSession, due: DueNotice) -> dict[str, Any]:
    """The JSON body of a notice: its ``event``, the saved search, the notice's id
    (increasing per search: receivers may drop repeats), and each item's current STAC
    document (``item`` is null for an item deleted since, and in ``item.deleted``
    notices, whose items are only named)."""
    deleted = due.notice.event == DELETED
    keys = [] if deleted else [(e["collection"], e["id"]) for e in due.notice.items]
    query = select(items.c.collection_id, items.c.id, item_json().label("item")).where(
        tuple_(items.c.collection_id, items.c.id).in_(keys)
    ) if keys else None
    documents: dict[tuple[str, str], Any] = {}
    if query is not None:
        with translate_db_errors():
            for row in (await session.execute(query)).all():
                documents[(row.collection_id, row.id)] = row.item
    return {
        "type": NOTICE_TYPE,
        "event": due.notice.event,
        "notice_id": due.notice.id,
        "saved_search": {"id": str(due.search.id), "name": due.search.name},
        "created_at": due.notice.created_at.isoformat(),
        "attempt": due.notice.attempts + 1,
        "items": [
            {**entry, "item": documents.get((entry["collection"], entry["id"]))}
            for entry in due.notice.items
        ],
    }


async def record_delivered(session: AsyncSession, notice_id: int, status: int) -> None:
    """Mark a notice delivered (its receiver answered 2xx with ``status``)."""
    with translate_db_errors():
        await session.execute(
            update(notices).where(notices.c.id == notice_id).values(
                status="delivered", attempts=notices.c.attempts + 1, last_status=status,
                last_error=None, delivered_at=func.clock_timestamp(),
            )
        )


async def record_failure(
    session: AsyncSession, due: DueNotice, status: int | None, error: str, policy: RetryPolicy
) -> float | None:
    """Record a failed attempt; returns the seconds until the retry, or None when the
    notice is given up (``failed``) after ``policy.max_attempts``."""
    attempts = due.notice.attempts + 1
    give_up = attempts >= policy.max_attempts
    delay = None if give_up else policy.delay(attempts)
    values: dict[str, Any] = {
        "attempts": attempts, "last_status": status, "last_error": error[:ERROR_TEXT_LIMIT],
    }
    if give_up:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = due.now + timedelta(seconds=delay or 0)
    with translate_db_errors():
        await session.execute(update(notices).where(notices.c.id == due.notice.id).values(**values))
    return delay
