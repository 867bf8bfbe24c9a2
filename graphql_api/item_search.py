"""Item search through ``catalog.search``: arguments, the Relay connection, counts."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import strawberry
from strawberry import Private

from catalog.access import Principal
from catalog.errors import InvalidInput
from catalog.operations import SearchOperations
from catalog.search import SearchRequest
from catalog.search.assets import AssetRow, in_document_order
from catalog.search.render import item_assets_json, item_parts, items
from graphql_api.context import Limits
from graphql_api.inputs import SortBy
from graphql_api.item_filter import ItemFilter, item_search
from graphql_api.paced import paced
from graphql_api.selection import connection_item_fields, connection_item_parts
from graphql_api.statements import STATEMENT
from graphql_api.types import Info, Item, ItemEdge, Loaded, PageInfo


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


ASSET_PARTS = (item_assets_json().label("_assets"), items.c.asset_order.label("_asset_order"))
"""The columns of an item's assets, read with its page when the page selects them."""


async def _load_related(
    info: Info, rows: Sequence[Mapping[str, Any]], selected: set[str],
    collections: Awaitable[Any] | None,
) -> Loaded:
    """Load the assets and collections a page selects (``selected``: its item fields),
    and the caller's URL rewriter, before its items are completed: their fields then
    resolve at once, without a task each (and the loop turns between the slices of a
    paced page would otherwise dispatch a dataloader batch per slice). The assets came
    with the rows (``ASSET_PARTS``), and ``collections`` was started with the page (the
    collections it searches), so this usually waits for nothing. The dataloaders are
    primed with what was loaded, for resolvers that use them."""
    loaded = Loaded()
    if collections is not None:
        await collections
    if not rows:
        return loaded
    context, loaders = info.context, info.context.loaders
    if selected & {"assets", "asset", "stac"}:
        loaded.urls = await context.asset_urls()  # hrefs are rewritten for the caller
    if selected & {"assets", "asset"}:
        assets = {
            (row["collection"], row["id"]): [
                AssetRow(row["collection"], row["id"], key, asset)
                for key, asset in in_document_order(row["_assets"], row["_asset_order"])
            ]
            for row in rows
        }
        loaders.assets.prime_many(assets)
        loaded.assets = assets
    if "collection" in selected:
        ids = list({row["collection"] for row in rows})
        loaded.collections = dict(zip(ids, await loaders.collections.load_many(ids),
                                      strict=True))
    return loaded


MAX_PREFETCHED_COLLECTIONS = 20
"""Collections named by a search whose documents are loaded while its page is read."""


def _prefetch_collections(info: Info, request: SearchRequest) -> Awaitable[Any] | None:
    """The documents of the collections ``request`` searches, loading (None: it names
    none, or many): when its items select their collection, they are there first."""
    names = request.collections
    if not names or len(names) > MAX_PREFETCHED_COLLECTIONS:
        return None
    loading = info.context.loaders.collections.load_many(list(names))
    # Awaited after the page; if reading the page fails, nobody will: no warning then.
    loading.add_done_callback(lambda done: done.cancelled() or done.exception())
    return loading


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
    connection = info.selected_fields[0]
    selected = connection_item_fields(connection)
    columns = item_parts(connection_item_parts(connection))
    if selected & {"assets", "asset"}:
        columns.extend(ASSET_PARTS)
    searches = info.context.services.searches
    principal = await info.context.principal()
    collections = _prefetch_collections(info, request) if "collection" in selected else None
    page = await searches.rows(principal, request, columns)
    loaded = await _load_related(info, page.rows, selected, collections)
    edges = paced(
        ItemEdge(_page=page, _index=index, node=Item(_row=dict(row), _loaded=loaded))
        for index, row in enumerate(page.rows)
    )
    # The first and last rows' cursors only: the others are encoded if edges ask.
    ends = replace(page, rows=[page.rows[0], page.rows[-1]]).cursors if page.rows else None
    info_ = PageInfo(
        has_next_page=page.has_more,
        has_previous_page=request.token is not None,
        start_cursor=ends[0] if ends else None,
        end_cursor=ends[-1] if ends else None,
    )
    return ItemConnection(
        edges=edges, page_info=info_, _request=request, _searches=searches,
        _principal=principal,
    )
