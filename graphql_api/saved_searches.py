"""Saved searches in GraphQL: ``savedSearches`` / ``savedSearch(id)``, the mutations
``createSavedSearch``, ``updateSavedSearch``, ``deleteSavedSearch``, and the
``savedSearchItems(id)`` subscription. A saved search is a STAC search body (``search``)
or the ``items`` query's filter arguments (``filter``), private to its owner."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from strawberry import Private

from catalog.errors import InvalidSavedSearch, ServiceUnavailable
from catalog.operations import SavedSearchOperations
from catalog.saved import (
    NoticeRecord,
    SavedSearchChanges,
    SavedSearchInput,
    SavedSearchRecord,
)
from graphql_api.item_filter import ItemFilter, item_search, stac_body
from graphql_api.scalars import JSON
from graphql_api.subscriptions import follow_items
from graphql_api.types import Info, Item


def _operations(info: Info) -> SavedSearchOperations:
    operations = info.context.services.saved_searches
    if operations is None:
        raise ServiceUnavailable("saved searches are not configured on this server")
    return operations


def _search_of(search: JSON | None, filter: ItemFilter | None) -> dict[str, Any] | None:
    if search is not None and filter is not None:
        raise InvalidSavedSearch("give a STAC `search` or an item `filter`, not both")
    return stac_body(item_search(filter)) if filter is not None else search


@strawberry.input(description="A new saved search: a STAC `search` body or item `filter`.")
class SavedSearchCreateInput:
    name: str
    search: JSON | None = None
    filter: ItemFilter | None = None
    webhook_url: str | None = strawberry.field(
        default=None, description="Where signed notices of new matching items are posted."
    )


@strawberry.input(description="Changes to a saved search; fields left out stay.")
class SavedSearchUpdateInput:
    name: str | None = None
    search: JSON | None = None
    filter: ItemFilter | None = None
    webhook_url: str | None = None
    remove_webhook: bool = False


@strawberry.type(description="One webhook notice of a saved search and its delivery.")
class SavedSearchDelivery:
    id: strawberry.ID
    event: str = strawberry.field(
        description="What happened to the items it reports: item.changed (added or "
        "updated) or item.deleted; the `event` of the notice's body."
    )
    status: str = strawberry.field(
        description="pending, delivered, failed (given up) or cancelled (webhook removed)."
    )
    attempts: int
    items: JSON = strawberry.field(description="The items reported: collection, id, changed_at.")
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None

    @classmethod
    def of(cls, notice: NoticeRecord) -> SavedSearchDelivery:
        """The GraphQL view of a notice."""
        return cls(
            id=strawberry.ID(str(notice.id)), event=notice.event, status=notice.status,
            attempts=notice.attempts,
            items=notice.items, created_at=notice.created_at,
            next_attempt_at=notice.next_attempt_at if notice.status == "pending" else None,
            delivered_at=notice.delivered_at, last_status=notice.last_status,
            last_error=notice.last_error,
        )


@strawberry.type(description="A search kept by its owner; with a webhook, new matching "
                 "items are posted to it, signed with `webhookSecret`.")
class SavedSearch:
    _record: Private[SavedSearchRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self._record.id))

    @strawberry.field
    def name(self) -> str:
        return self._record.name

    @strawberry.field(description="The STAC search body.")
    def search(self) -> JSON:
        return self._record.search

    @strawberry.field
    def webhook_url(self) -> str | None:
        return self._record.webhook_url

    @strawberry.field(description="Signs notices: X-Stacql-Signature t=<unix>,v1=HMAC-SHA256("
                      "secret, '<t>.' + body) in hex.")
    def webhook_secret(self) -> str | None:
        return self._record.secret if self._record.webhook_url else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self._record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self._record.updated_at

    @strawberry.field(description="The delivery log, newest notice first.")
    async def deliveries(
        self, info: Info, first: int = 100, before: strawberry.ID | None = None
    ) -> list[SavedSearchDelivery]:
        principal = await info.context.principal()
        before_id = _notice_id(before)
        notices = await _operations(info).deliveries(
            principal, str(self._record.id), first, before_id
        )
        return [SavedSearchDelivery.of(notice) for notice in notices]


def _notice_id(value: strawberry.ID | None) -> int | None:
    if value is None:
        return None
    if not str(value).isdigit():
        raise InvalidSavedSearch(f"{str(value)[:40]!r} is not a delivery id")
    return int(value)


@strawberry.type
class SavedSearchQuery:
    @strawberry.field(description="The caller's saved searches, oldest first.")
    async def saved_searches(self, info: Info) -> list[SavedSearch]:
        records = await _operations(info).list(await info.context.principal())
        return [SavedSearch(_record=record) for record in records]

    @strawberry.field(description="One of the caller's saved searches.")
    async def saved_search(self, info: Info, id: strawberry.ID) -> SavedSearch:
        record = await _operations(info).get(await info.context.principal(), str(id))
        return SavedSearch(_record=record)


@strawberry.type
class SavedSearchMutation:
    @strawberry.mutation(description="Save a search for the caller (API key or token).")
    async def create_saved_search(self, info: Info, input: SavedSearchCreateInput) -> SavedSearch:
        data = SavedSearchInput(
            input.name, _search_of(input.search, input.filter), input.webhook_url
        )
        record = await _operations(info).create(await info.context.principal(), data)
        return SavedSearch(_record=record)

    @strawberry.mutation(description="Change one of the caller's saved searches.")
    async def update_saved_search(
        self, info: Info, id: strawberry.ID, input: SavedSearchUpdateInput
    ) -> SavedSearch:
        changes = SavedSearchChanges(
            input.name, _search_of(input.search, input.filter), input.webhook_url,
            input.remove_webhook,
        )
        record = await _operations(info).update(await info.context.principal(), str(id), changes)
        return SavedSearch(_record=record)

    @strawberry.mutation(description="Delete one of the caller's saved searches; its "
                         "pending notices are not sent.")
    async def delete_saved_search(self, info: Info, id: strawberry.ID) -> bool:
        await _operations(info).delete(await info.context.principal(), str(id))
        return True


@strawberry.type
class SavedSearchSubscription:
    @strawberry.subscription(description="Items created or updated from now on that match "
                             "one of the caller's saved searches.")
    async def saved_search_items(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[Item, None]:
        _, request = await _operations(info).request(await info.context.principal(), str(id))
        async for item in follow_items(info, request):
            yield item
