"""Item search through ``catalog.search``: arguments, the Relay connection, counts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import strawberry
from strawberry import Private

from catalog.access import Principal
from catalog.errors import InvalidInput
from catalog.operations import SearchOperations
from catalog.search import SearchRequest
from catalog.search.render import item_parts
from graphql_api.context import Limits
from graphql_api.inputs import SortBy
from graphql_api.item_filter import ItemFilter, item_search
from graphql_api.paced import paced
from graphql_api.selection import connection_item_fields, connection_item_parts
from graphql_api.statements import STATEMENT
from graphql_api.types import Info, Item, ItemEdge, PageInfo


@strawberry.type(description="A page of items in a stable order, with cursors.")
class ItemConnection:
    edges: list[ItemEdge]
    page_info: PageInfo
    _request: Private[SearchRequest]
    _searches: Private[SearchOperations]
    _principal: Private[Principal]

    @strawberry.field
    def nodes(self) -> list[Item]:
        return paced(edge.node for edge in self.edges)

    @strawberry.field(description="How many items match in all; costs a count, so ask only "
                      "when it is shown.",
                      metadata=STATEMENT)
    async def total_count(self) -> int:
        return await self._searches.count(self._principal, self._request)


async def _load_related(info: Info, rows: Sequence[Mapping[str, Any]]) -> None:
    """Load the assets and collections a page selects, in one batch each (at the same
    time), and the caller's URL rewriter, before its items are completed: their fields
    then resolve at once, without a task each (and the loop turns between the slices of
    a paced page would otherwise dispatch a dataloader batch per slice)."""
    if not rows:
        return
    selected = connection_item_fields(info.selected_fields[0])
    loaders = info.context.loaders
    loads: list[Awaitable[Any]] = []
    if selected & {"assets", "asset", "stac"}:
        loads.append(info.context.asset_urls())  # hrefs are rewritten for the caller
    if selected & {"assets", "asset"}:
        loads.append(loaders.assets.load_many([(row["collection"], row["id"]) for row in rows]))
    if "collection" in selected:
        loads.append(loaders.collections.load_many(list({row["collection"] for row in rows})))
    await asyncio.gather(*loads)


def page_size(first: int | None, limits: Limits) -> int:
    """``first`` checked against the configured page size limits."""
    if first is None:
        return limits.default_page_size
    if not 1 <= first <= limits.max_page_size:
        raise InvalidInput(f"first must be between 1 and {limits.max_page_size}")
    return first


async def item_request(
    info: Info,
    match: ItemFilter,
    sort_by: list[SortBy] | None = None,
    first: int | None = None,
    after: str | None = None,
) -> SearchRequest:
    """The ``catalog.search`` request of ``match`` for the caller: typed values
    (interval, sort keys, CQL2-JSON) go to the operation as they are."""
    limits = info.context.services.limits
    terms = item_search(match, sort_by, page_size(first, limits), after)
    return await info.context.services.searches.request(
        await info.context.principal(), terms, max_limit=limits.max_page_size
    )


async def find_items(info: Info, request: SearchRequest) -> ItemConnection:
    """Run ``request`` reading only the item columns the query selects."""
    parts = connection_item_parts(info.selected_fields[0])
    searches = info.context.services.searches
    principal = await info.context.principal()
    page = await searches.rows(principal, request, item_parts(parts))
    edges = paced(
        ItemEdge(cursor=cursor, node=Item(_row=dict(row)))
        for row, cursor in zip(page.rows, page.cursors, strict=True)
    )
    await _load_related(info, page.rows)
    info_ = PageInfo(
        has_next_page=page.has_more,
        has_previous_page=request.token is not None,
        start_cursor=page.cursors[0] if page.cursors else None,
        end_cursor=page.cursors[-1] if page.cursors else None,
    )
    return ItemConnection(
        edges=edges, page_info=info_, _request=request, _searches=searches,
        _principal=principal,
    )
