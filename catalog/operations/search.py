"""Search operations both APIs call: item searches, counts, aggregations, asset searches
and changes, always limited to what the caller may read.

A request comes from the wire format's parser (``catalog.search.build_search`` for STAC
strings) or from typed terms (:class:`ItemSearch`, what GraphQL has); whichever built it,
these operations scope it to the caller, so no adapter grants visibility itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime as Datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access.principal import Principal
from catalog.db.driver import read_connection
from catalog.db.errors import translate_db_errors
from catalog.search import MAX_LIMIT, RowPage, SearchPage, SearchRequest, SortField
from catalog.search import count_matches as _count_matches
from catalog.search import search as _search
from catalog.search import search_rows as _search_rows
from catalog.search.aggregate import AggregationSpec
from catalog.search.aggregate import aggregate as _aggregate
from catalog.search.assets import AssetPage, search_assets
from catalog.search.changes import changed_items, database_now
from catalog.search.count import CountBudget, count_within
from catalog.search.request import light_search_terms, typed_search
from catalog.search.usage import PropertyUsage
from catalog.temporal import Interval


@dataclass(frozen=True)
class ItemSearch:
    """Typed item-search terms: an interval, sort keys and a CQL2-JSON filter as they
    are (no string forms); ``bbox`` in lon/lat, ``intersects`` a GeoJSON geometry."""

    ids: Sequence[str] | None = None
    collections: Sequence[str] | None = None
    bbox: Sequence[float] | None = None
    intersects: dict[str, Any] | None = None
    datetime: Interval | None = None
    filter: dict[str, Any] | None = None
    sortby: Sequence[SortField] = ()
    limit: int | None = None
    token: str | None = None
    q: str | Sequence[str] | None = None
    count: bool = False


def for_caller(principal: Principal, request: SearchRequest) -> SearchRequest:
    """``request`` limited to the collections ``principal`` may see."""
    if request.readable_private == principal.readable_private:
        return request
    return replace(request, readable_private=principal.readable_private)


class SearchOperations:
    """Item searches over the catalog under its access rules.

    ``max_limit`` caps a page; ``count_budget`` bounds counts nobody asked for; ``usage``,
    when given, counts the properties pages are filtered and sorted by."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_limit: int = MAX_LIMIT,
        count_budget: CountBudget | None = None,
        usage: PropertyUsage | None = None,
    ) -> None:
        self.sessions = sessions
        self.max_limit = max_limit
        self.count_budget = count_budget or CountBudget()
        self.usage = usage

    async def request(
        self, principal: Principal, terms: ItemSearch, max_limit: int | None = None
    ) -> SearchRequest:
        """The validated request of typed ``terms`` for ``principal``, built in a thread
        when it holds more geometry than a thread hand-off costs to repair (a repair
        takes CPU the event loop must not wait for)."""
        build = partial(
            typed_search,
            ids=terms.ids, collections=terms.collections, bbox=terms.bbox,
            intersects=terms.intersects, datetime=terms.datetime, filter=terms.filter,
            sortby=terms.sortby, limit=terms.limit, token=terms.token, count=terms.count,
            q=terms.q, max_limit=max_limit or self.max_limit,
            readable_private=principal.readable_private,
        )
        if light_search_terms(terms.intersects, terms.filter):
            return build()
        return await asyncio.to_thread(build)

    async def items(self, principal: Principal, request: SearchRequest) -> SearchPage:
        """A page of matching items as STAC documents."""
        async with self.sessions() as session:
            page = await _search(session, for_caller(principal, request))
        self._note(request)
        return page

    async def rows(
        self, principal: Principal, request: SearchRequest, columns: Sequence[ColumnElement]
    ) -> RowPage:
        """A page of matching items, each row holding only ``columns``."""
        request = for_caller(principal, request)
        connection = read_connection(self.sessions)
        if connection is None:
            async with self.sessions() as session:
                page = await _search_rows(session, request, columns)
        else:
            with translate_db_errors():  # a connection the server dropped
                async with connection:
                    page = await _search_rows(connection, request, columns)
        self._note(request)
        return page

    def _note(self, request: SearchRequest) -> None:
        # After the page: a refused search (an unknown sort property) is not counted.
        if self.usage is not None:
            self.usage.note(request)

    async def count(self, principal: Principal, request: SearchRequest) -> int:
        """How many items match in all."""
        async with self.sessions() as session:
            return await _count_matches(session, for_caller(principal, request))

    async def count_within_budget(
        self, principal: Principal, request: SearchRequest
    ) -> int | None:
        """How many items match, or None when counting would pass ``count_budget``."""
        async with self.sessions() as session:
            return await count_within(
                session, for_caller(principal, request), self.count_budget
            )

    async def aggregate(
        self, principal: Principal, request: SearchRequest, spec: AggregationSpec
    ) -> list[dict[str, Any]]:
        """The aggregations of ``spec`` over the matching items, in the asked order."""
        async with self.sessions() as session:
            return await _aggregate(session, for_caller(principal, request), spec)

    async def assets(
        self,
        principal: Principal,
        request: SearchRequest,
        *,
        roles: Sequence[str] | None = None,
        media_type: str | None = None,
        limit: int = 10,
        after: str | None = None,
    ) -> AssetPage:
        """Assets with any of ``roles`` and the media type, of the matching items."""
        async with self.sessions() as session:
            return await search_assets(
                session, for_caller(principal, request), roles=roles,
                media_type=media_type, limit=limit, after=after,
            )

    async def now(self) -> Datetime:
        """The database clock, which stamps item writes (for :meth:`changes`)."""
        async with self.sessions() as session:
            return await database_now(session)

    async def changes(
        self,
        principal: Principal,
        request: SearchRequest,
        since: Datetime,
        columns: Sequence[ColumnElement],
    ) -> list[Any]:
        """Rows of matching items written after ``since``, oldest first."""
        async with self.sessions() as session:
            return await changed_items(session, for_caller(principal, request), since, columns)
