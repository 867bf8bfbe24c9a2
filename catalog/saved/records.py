"""What a saved search is: its owner's input, its stored record and its delivery log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.access.principal import Principal
from catalog.errors import Unauthorized


def owner_of(principal: Principal) -> str:
    """The owner a caller's saved searches are kept under: its API key (``key:<id>``)
    or its bearer token's subject (``sub:<sub>``); ``Unauthorized`` for anyone else."""
    if principal.key_id is not None:
        return f"key:{principal.key_id}"
    if principal.subject is not None:
        return f"sub:{principal.subject}"
    raise Unauthorized("saved searches need an API key or a bearer token with a subject")


@dataclass(frozen=True)
class SavedSearchInput:
    """A new saved search: a name, a STAC search body (collections, ids, bbox,
    intersects, datetime, filter, filter-lang, query) and an optional webhook URL."""

    name: str
    search: dict[str, Any]
    webhook_url: str | None = None


@dataclass(frozen=True)
class SavedSearchChanges:
    """Changes to a saved search: fields left None stay; ``remove_webhook`` stops its
    notices."""

    name: str | None = None
    search: dict[str, Any] | None = None
    webhook_url: str | None = None
    remove_webhook: bool = False


@dataclass(frozen=True)
class SavedSearchRecord:
    """A stored saved search. ``readable_private`` is what its owner could read when it
    was saved (None: every private collection); ``secret`` signs its webhook notices."""

    id: uuid.UUID
    owner: str
    name: str
    search: dict[str, Any]
    readable_private: frozenset[str] | None
    webhook_url: str | None
    secret: str
    created_at: datetime
    updated_at: datetime
    key_id: uuid.UUID | None = None

    @classmethod
    def from_row(cls, row: Any) -> SavedSearchRecord:
        """The record of a ``saved_searches`` row."""
        readable = row.readable_private
        return cls(
            id=row.id, owner=row.owner, name=row.name, search=row.search,
            readable_private=None if readable is None else frozenset(readable),
            webhook_url=row.webhook_url, secret=row.secret,
            created_at=row.created_at, updated_at=row.updated_at, key_id=row.key_id,
        )


@dataclass(frozen=True)
class NoticeRecord:
    """One webhook notice: what happened to the items it reports (``event``:
    ``item.changed`` or ``item.deleted``), the items (``collection``, ``id``,
    ``changed_at``: when written or deleted) and how its delivery went so far."""

    id: int
    saved_search_id: uuid.UUID
    items: list[dict[str, Any]]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    event: str = "item.changed"

    @classmethod
    def from_row(cls, row: Any) -> NoticeRecord:
        """The record of a ``saved_search_notices`` row."""
        return cls(
            id=row.id, saved_search_id=row.saved_search_id, items=row.items,
            status=row.status, attempts=row.attempts, next_attempt_at=row.next_attempt_at,
            last_status=row.last_status, last_error=row.last_error,
            created_at=row.created_at, delivered_at=row.delivered_at, event=row.event,
        )
