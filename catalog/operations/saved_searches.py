"""Saved search operations both APIs call: create, list, read, change and delete a
caller's saved searches, read their delivery log and their latest matches.

A saved search belongs to the caller's API key or bearer-token subject and is visible to
no one else. It sees the private collections its owner could read when it was saved (and
nothing more once the key is revoked). Webhook URLs go through the fetch policy: no
loopback, private or link-local address unless the operator allows them.
"""

from __future__ import annotations

import asyncio
import builtins
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access.principal import Principal
from catalog.access.remote import FetchPolicy
from catalog.errors import Forbidden, InvalidInput, InvalidSavedSearch, WebhookNotAllowed
from catalog.saved.body import check_name, check_search_body, search_request
from catalog.saved.feed import FEED_SIZE, latest_matches
from catalog.saved.records import (
    NoticeRecord,
    SavedSearchChanges,
    SavedSearchInput,
    SavedSearchRecord,
    owner_of,
)
from catalog.saved.store import (
    cancel_pending_notices,
    delete_saved_search,
    insert_saved_search,
    list_notices,
    list_saved_searches,
    owned_saved_search,
    search_uuid,
    update_saved_search,
)
from catalog.search.request import SearchRequest

MAX_URL_LENGTH = 2048
WEBHOOK_SCHEMES = ("https", "http")


def check_webhook(policy: FetchPolicy, url: Any) -> str:
    """``url`` if notices may be posted to it; ``InvalidSavedSearch`` for a malformed URL,
    ``WebhookNotAllowed`` for one the fetch policy refuses. Resolves the host (blocking)."""
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL_LENGTH:
        raise InvalidSavedSearch(
            f"a webhook URL is an http(s) URL of at most {MAX_URL_LENGTH} characters"
        )
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise InvalidSavedSearch(f"the webhook URL {url[:100]!r} is malformed") from exc
    if parts.scheme.lower() not in WEBHOOK_SCHEMES or not parts.hostname:
        raise InvalidSavedSearch(f"the webhook URL {url[:100]!r} is not an http(s) URL")
    try:
        return policy.check(url)
    except Forbidden as exc:
        raise WebhookNotAllowed(f"webhook URL refused: {exc.message}") from exc
    except InvalidInput as exc:
        raise InvalidSavedSearch(f"webhook URL refused: {exc.message}") from exc


class SavedSearchOperations:
    """Saved searches under the caller's identity; every call takes the caller."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        fetch_policy: FetchPolicy | None = None,
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.sessions = sessions
        self.read_sessions = read_sessions or sessions
        self.fetch_policy = fetch_policy or FetchPolicy()

    async def _checked_values(
        self, name: Any = None, search: Any = None, webhook_url: Any = None
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = check_name(name)
        if search is not None:
            values["search"] = await asyncio.to_thread(check_search_body, search)
        if webhook_url is not None:
            values["webhook_url"] = await asyncio.to_thread(
                check_webhook, self.fetch_policy, webhook_url
            )
        return values

    async def create(self, principal: Principal, data: SavedSearchInput) -> SavedSearchRecord:
        """Save a search for the caller; raises ``Unauthorized`` for an anonymous
        caller, ``InvalidInput`` subclasses and ``WebhookNotAllowed`` for bad input."""
        owner = owner_of(principal)
        if data.search is None:
            raise InvalidSavedSearch("a saved search needs a search")
        values = await self._checked_values(
            check_name(data.name), data.search, data.webhook_url
        )
        async with self.sessions() as session, session.begin():
            return await insert_saved_search(
                session, owner, values, principal.readable_private, principal.key_id
            )

    async def list(self, principal: Principal) -> list[SavedSearchRecord]:
        """The caller's saved searches, oldest first."""
        owner = owner_of(principal)
        async with self.read_sessions() as session:
            return await list_saved_searches(session, owner)

    async def get(self, principal: Principal, search_id: str) -> SavedSearchRecord:
        """The caller's saved search ``search_id``; ``SavedSearchNotFound`` otherwise."""
        owner = owner_of(principal)
        async with self.read_sessions() as session:
            return await owned_saved_search(session, owner, search_uuid(search_id))

    async def update(
        self, principal: Principal, search_id: str, changes: SavedSearchChanges
    ) -> SavedSearchRecord:
        """Change the caller's saved search; the fields not given stay."""
        owner = owner_of(principal)
        key = search_uuid(search_id)
        if changes.remove_webhook and changes.webhook_url is not None:
            raise InvalidSavedSearch("give a webhook URL or remove the webhook, not both")
        values = await self._checked_values(changes.name, changes.search, changes.webhook_url)
        if changes.remove_webhook:
            values["webhook_url"] = None
        async with self.sessions() as session, session.begin():
            if not values:
                return await owned_saved_search(session, owner, key)
            record = await update_saved_search(session, owner, key, values)
            if changes.remove_webhook:
                await cancel_pending_notices(session, key)
            return record

    async def delete(self, principal: Principal, search_id: str) -> None:
        """Delete the caller's saved search; its pending notices are never sent."""
        owner = owner_of(principal)
        async with self.sessions() as session, session.begin():
            await delete_saved_search(session, owner, search_uuid(search_id))

    async def deliveries(
        self, principal: Principal, search_id: str, limit: int = 100, before: int | None = None
    ) -> builtins.list[NoticeRecord]:
        """The delivery log of the caller's saved search, newest notice first."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        owner = owner_of(principal)
        key = search_uuid(search_id)
        async with self.read_sessions() as session:
            await owned_saved_search(session, owner, key)
            return await list_notices(session, key, limit, before)

    async def request(
        self, principal: Principal, search_id: str
    ) -> tuple[SavedSearchRecord, SearchRequest]:
        """The caller's saved search and its search request as the caller may see it
        (what its GraphQL subscription follows)."""
        record = await self.get(principal, search_id)
        request = await asyncio.to_thread(
            search_request, record.search, principal.readable_private
        )
        return record, request

    async def latest(
        self, principal: Principal, search_id: str, limit: int = FEED_SIZE
    ) -> tuple[SavedSearchRecord, builtins.list[Any]]:
        """The caller's saved search and its most recently written matching items
        (rows of ``item`` and ``changed_at``, newest first): what its feed shows."""
        record, request = await self.request(principal, search_id)
        async with self.read_sessions() as session:
            return record, await latest_matches(session, request, limit)
