"""The root ``Query`` type."""

from __future__ import annotations

from typing import Annotated

import strawberry

from catalog.errors import NotFound
from catalog.export.formats import EXPORT_JOB_KIND
from catalog.jobs import get_job, job_uuid
from catalog.operations import ItemSearch
from catalog.search.render import item_parts
from graphql_api import item_filter as by
from graphql_api.aggregation import Aggregation
from graphql_api.inputs import BboxArg, DatetimeRange, SortBy, TextArg
from graphql_api.item_search import ItemConnection, find_items, item_request, page_size
from graphql_api.scalars import GeoJSON
from graphql_api.selection import item_parts_of
from graphql_api.statements import STATEMENT
from graphql_api.types import (
    Asset,
    AssetConnection,
    AssetEdge,
    Collection,
    CollectionConnection,
    CollectionEdge,
    Info,
    Item,
    Job,
    PageInfo,
)


@strawberry.type
class Query:
    @strawberry.field(
        description="Collections in id order, optionally filtered.",
        metadata=STATEMENT,
    )
    async def collections(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        bbox: BboxArg = None,
        datetime: DatetimeRange | None = None,
        q: TextArg = None,
    ) -> CollectionConnection:
        limit = page_size(first, info.context.services.limits)
        page = await info.context.services.collections.search(
            await info.context.principal(), bbox=bbox,
            datetime=datetime.as_interval() if datetime else None,
            q=q, limit=limit, token=after,
        )
        edges = [CollectionEdge(cursor=doc["id"], node=Collection(_doc=doc))
                 for doc in page.collections]
        return CollectionConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.next_token is not None, has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.matched,
        )

    @strawberry.field(
        description="One collection; null when there is none by that id.",
        metadata=STATEMENT,
    )
    async def collection(self, info: Info, id: str) -> Collection | None:
        doc = await info.context.loaders.collections.load(id)
        return None if doc is None else Collection(_doc=doc)

    @strawberry.field(
        description="Items matching every given filter, a page at a time.",
        metadata=STATEMENT,
    )
    async def items(
        self,
        info: Info,
        match: by.MatchArg = None,
        sort_by: list[SortBy] | None = None,
        first: int | None = None,
        after: str | None = None,
        collections: by.OldList = None,
        ids: by.OldList = None,
        bbox: by.OldBbox = None,
        intersects: by.OldGeometry = None,
        datetime: by.OldDatetime = None,
        filter: by.OldFilter = None,
        where: by.OldWhere = None,
        q: by.OldText = None,
    ) -> ItemConnection:
        terms = by.merged(
            match, collections=collections, ids=ids, bbox=bbox, intersects=intersects,
            datetime=datetime, filter=filter, where=where, q=q,
        )
        request = await item_request(info, terms, sort_by, first, after)
        return await find_items(info, request)

    @strawberry.field(description="One item; null when there is none.", metadata=STATEMENT)
    async def item(self, info: Info, collection_id: str, id: str) -> Item | None:
        parts = item_parts_of(info.selected_fields[0].selections)
        searches = info.context.services.searches
        principal = await info.context.principal()
        request = await searches.request(
            principal, ItemSearch(ids=[id], collections=[collection_id], limit=1)
        )
        page = await searches.rows(principal, request, item_parts(parts))
        return Item(_row=dict(page.rows[0])) if page.rows else None

    @strawberry.field(
        description="Assets by role and media type, of items matching filters.",
        metadata=STATEMENT,
    )
    async def assets(
        self,
        info: Info,
        collections: list[str] | None = None,
        roles: list[str] | None = None,
        media_type: Annotated[
            str | None,
            strawberry.argument(description="Exact, or a prefix before `;` (`image/tiff`)."),
        ] = None,
        bbox: BboxArg = None,
        intersects: GeoJSON | None = None,
        datetime: DatetimeRange | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AssetConnection:
        terms = by.ItemFilter(
            collections=collections, bbox=bbox, intersects=intersects, datetime=datetime
        )
        request = await item_request(info, terms)
        page = await info.context.services.searches.assets(
            await info.context.principal(), request, roles=roles, media_type=media_type,
            limit=page_size(first, info.context.services.limits), after=after,
        )
        urls = await info.context.asset_urls()
        edges = [AssetEdge(cursor=c, node=Asset(_row=row, _urls=urls))
                 for row, c in zip(page.assets, page.cursors, strict=True)]
        return AssetConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_more, has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description="An upload or ingest job; null when there is none.",
        metadata=STATEMENT,
    )
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        async with info.context.services.sessions() as session:
            try:
                readable = await info.context.readable_private()
                record = await get_job(session, job_uuid(id), readable)
            except NotFound:
                return None
        if record.kind == EXPORT_JOB_KIND:
            # An export's row holds its owner and search: shown to whom may read its file.
            exports = info.context.services.exports
            try:
                if exports is None:
                    return None
                record = await exports.job(await info.context.principal(), str(id))
            except NotFound:
                return None
        return Job(_record=record)

    @strawberry.field(description="Counts and histograms; same filters as `items`.")
    async def aggregate(
        self,
        info: Info,
        match: by.MatchArg = None,
        collections: by.OldList = None,
        ids: by.OldList = None,
        bbox: by.OldBbox = None,
        intersects: by.OldGeometry = None,
        datetime: by.OldDatetime = None,
        filter: by.OldFilter = None,
        where: by.OldWhere = None,
        q: by.OldText = None,
    ) -> Aggregation:
        terms = by.merged(
            match, collections=collections, ids=ids, bbox=bbox, intersects=intersects,
            datetime=datetime, filter=filter, where=where, q=q,
        )
        request = await item_request(info, terms)
        return Aggregation(
            _request=request, _searches=info.context.services.searches,
            _principal=await info.context.principal(),
        )
