"""The root ``Subscription`` type (graphql-transport-ws): job progress and new items."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any

import strawberry

from catalog.jobs import get_job, job_uuid
from catalog.search.render import item_parts
from catalog.search.request import SearchRequest
from graphql_api import item_filter as by
from graphql_api.events import ITEMS_CHANNEL, JOBS_CHANNEL, wait_for
from graphql_api.item_search import item_request
from graphql_api.selection import item_parts_of
from graphql_api.types import Info, Item, Job

POLL_SECONDS = 2.0
"""Re-read the database this often even without a notification (listener down...)."""

LOOKBACK = timedelta(seconds=30)
"""How far back each re-read looks: ``updated_at`` is the writing transaction's start,
so a transaction that commits late shows rows older than ones already seen."""


def _queue(info: Info, channel: str) -> Any:
    events = info.context.services.events
    return events.subscribe(channel) if events is not None else contextlib.nullcontext(None)


async def _pause(queue: Any) -> None:
    if queue is None:
        import asyncio

        await asyncio.sleep(POLL_SECONDS)
    else:
        await wait_for(queue, POLL_SECONDS)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The job now, then at every change of status or progress until it ends."
    )
    async def job(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Job, None]:
        key = job_uuid(id)
        sessions = info.context.services.sessions
        readable = await info.context.readable_private()
        last = None
        async with _queue(info, JOBS_CHANNEL) as queue:
            while True:
                async with sessions() as session:
                    record = await get_job(session, key, readable)
                state = (record.status, record.progress, record.message)
                if state != last:
                    last = state
                    yield Job(_record=record)
                if record.is_final:
                    return
                await _pause(queue)

    @strawberry.subscription(
        description="Items created or updated from now on that match the filters, as they "
        "are committed."
    )
    async def items_added(
        self,
        info: Info,
        match: by.MatchArg = None,
        collections: by.OldList = None,
        bbox: by.OldBbox = None,
        intersects: by.OldGeometry = None,
        datetime: by.OldDatetime = None,
        filter: by.OldFilter = None,
        where: by.OldWhere = None,
    ) -> AsyncGenerator[Item, None]:
        terms = by.merged(
            match, collections=collections, bbox=bbox, intersects=intersects,
            datetime=datetime, filter=filter, where=where,
        )
        request = await item_request(info, terms)
        async for item in follow_items(info, request):
            yield item


async def follow_items(info: Info, request: SearchRequest) -> AsyncGenerator[Item, None]:
    """Items matching ``request`` created or updated from now on, each change once, as
    they are committed (``itemsAdded`` and ``savedSearchItems``)."""
    columns = item_parts(item_parts_of(info.selected_fields[0].selections))
    searches = info.context.services.searches
    principal = await info.context.principal()
    since = await searches.now()
    seen: dict[tuple[str, str], Any] = {}
    async with _queue(info, ITEMS_CHANNEL) as queue:
        while True:
            await _pause(queue)
            rows = await searches.changes(principal, request, since - LOOKBACK, columns)
            for row in rows:
                key = (row["collection"], row["id"])
                if seen.get(key) == row["changed_at"]:
                    continue
                seen[key] = row["changed_at"]
                since = max(since, row["changed_at"])
                yield Item(_row=dict(row))
            horizon = since - 2 * LOOKBACK
            seen = {k: v for k, v in seen.items() if v >= horizon}
