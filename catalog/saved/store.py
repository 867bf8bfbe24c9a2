"""Saved searches in the database, always reached through their owner: another owner's
search is reported as not found, never as forbidden, so ids reveal nothing."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.db.models import SavedSearch, SavedSearchNotice
from catalog.errors import InvalidSavedSearch, SavedSearchNotFound
from catalog.saved.records import NoticeRecord, SavedSearchRecord
from catalog.saved.signature import new_secret

searches = cast(Table, SavedSearch.__table__)
notices = cast(Table, SavedSearchNotice.__table__)

MAX_PER_OWNER = 1000
"""Saved searches one owner may keep: each one with a webhook is matched against every
batch of written items."""


def search_uuid(value: str) -> uuid.UUID:
    """The saved search id in ``value``; ``SavedSearchNotFound`` if it is not a UUID."""
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise SavedSearchNotFound(f"no saved search {str(value)[:80]!r}") from exc


async def insert_saved_search(
    session: AsyncSession,
    owner: str,
    values: dict[str, Any],
    readable_private: frozenset[str] | None,
    key_id: str | None,
) -> SavedSearchRecord:
    """Store a new saved search of ``owner`` (``values``: name, search, webhook_url,
    already checked); ``InvalidSavedSearch`` past ``MAX_PER_OWNER``."""
    with translate_db_errors():
        count = (await session.execute(
            select(func.count()).select_from(searches).where(searches.c.owner == owner)
        )).scalar_one()
        if count >= MAX_PER_OWNER:
            raise InvalidSavedSearch(f"an owner keeps at most {MAX_PER_OWNER} saved searches")
        row = (await session.execute(
            insert(searches).values(
                id=uuid.uuid4(), owner=owner, secret=new_secret(), key_id=key_id,
                readable_private=None if readable_private is None else sorted(readable_private),
                **values,
            ).returning(searches)
        )).one()
    return SavedSearchRecord.from_row(row)


async def owned_saved_search(
    session: AsyncSession, owner: str, search_id: uuid.UUID
) -> SavedSearchRecord:
    """The saved search ``search_id`` of ``owner``; ``SavedSearchNotFound`` otherwise."""
    with translate_db_errors():
        row = (await session.execute(
            select(searches).where(searches.c.id == search_id, searches.c.owner == owner)
        )).one_or_none()
    if row is None:
        raise SavedSearchNotFound(f"no saved search {str(search_id)!r}")
    return SavedSearchRecord.from_row(row)


async def get_saved_search(session: AsyncSession, search_id: uuid.UUID) -> SavedSearchRecord | None:
    """The saved search ``search_id`` whoever owns it (for the workers), or None."""
    with translate_db_errors():
        row = (await session.execute(
            select(searches).where(searches.c.id == search_id)
        )).one_or_none()
    return None if row is None else SavedSearchRecord.from_row(row)


async def list_saved_searches(session: AsyncSession, owner: str) -> list[SavedSearchRecord]:
    """The saved searches of ``owner``, oldest first."""
    with translate_db_errors():
        rows = (await session.execute(
            select(searches).where(searches.c.owner == owner)
            .order_by(searches.c.created_at, searches.c.id)
        )).all()
    return [SavedSearchRecord.from_row(row) for row in rows]


async def update_saved_search(
    session: AsyncSession, owner: str, search_id: uuid.UUID, values: dict[str, Any]
) -> SavedSearchRecord:
    """Apply ``values`` (checked columns) to ``owner``'s saved search ``search_id``."""
    with translate_db_errors():
        row = (await session.execute(
            update(searches)
            .where(searches.c.id == search_id, searches.c.owner == owner)
            .values(**values, updated_at=func.now())
            .returning(searches)
        )).one_or_none()
    if row is None:
        raise SavedSearchNotFound(f"no saved search {str(search_id)!r}")
    return SavedSearchRecord.from_row(row)


async def delete_saved_search(session: AsyncSession, owner: str, search_id: uuid.UUID) -> None:
    """Delete ``owner``'s saved search ``search_id`` and its notices (pending ones are
    never sent); ``SavedSearchNotFound`` if there is none."""
    with translate_db_errors():
        deleted = (await session.execute(
            delete(searches)
            .where(searches.c.id == search_id, searches.c.owner == owner)
            .returning(searches.c.id)
        )).one_or_none()
    if deleted is None:
        raise SavedSearchNotFound(f"no saved search {str(search_id)!r}")


async def cancel_pending_notices(session: AsyncSession, search_id: uuid.UUID) -> None:
    """Mark the notices of a saved search still waiting ``cancelled`` (its webhook was
    removed: they will never be sent)."""
    with translate_db_errors():
        await session.execute(
            update(notices)
            .where(notices.c.saved_search_id == search_id, notices.c.status == "pending")
            .values(status="cancelled")
        )


async def list_notices(
    session: AsyncSession, search_id: uuid.UUID, limit: int = 100, before: int | None = None
) -> list[NoticeRecord]:
    """The delivery log of a saved search: its notices, newest first, ``limit`` at most,
    older than notice ``before`` when given."""
    query = select(notices).where(notices.c.saved_search_id == search_id)
    if before is not None:
        query = query.where(notices.c.id < before)
    with translate_db_errors():
        rows = (await session.execute(query.order_by(notices.c.id.desc()).limit(limit))).all()
    return [NoticeRecord.from_row(row) for row in rows]
