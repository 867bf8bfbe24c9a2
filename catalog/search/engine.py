"""The search engine both APIs use: filters, order, keyset pages and counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import shapely
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    Text,
    and_,
    cast,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.geometry import bbox_boxes
from catalog.queryables import known_properties
from catalog.search.cql2 import compile_filter
from catalog.search.cursor import Cursor, decode_cursor, encode_cursor
from catalog.search.fields import CORE_FIELDS, canonical_name, items, resolve_field
from catalog.search.freetext import text_match
from catalog.search.lookup import collections
from catalog.search.render import item_json
from catalog.search.request import SearchRequest
from catalog.search.sort import (
    SortField,
    check_sort_fields,
    sort_expression,
    with_tie_break,
)
from catalog.search.time_spans import TimeSpans, datetime_bounds, time_spans
from catalog.stac.common import dumps
from catalog.temporal import Interval


@dataclass(frozen=True)
class SearchPage:
    """One page of results: STAC items, paging tokens and, when asked, the total."""

    items: list[dict[str, Any]]
    next_token: str | None
    prev_token: str | None
    matched: int | None

    @property
    def returned(self) -> int:
        """How many items the page holds."""
        return len(self.items)


def _geometry_param(geometry: shapely.Geometry) -> ColumnElement:
    wkb = shapely.to_wkb(geometry, hex=True)
    return func.ST_GeomFromWKB(func.decode(literal(wkb), "hex"), 4326)


_WHERE = "_where_clauses"


def where_clauses(request: SearchRequest) -> list[ColumnElement]:
    """The WHERE conditions of a request (ids, collections, space, time, CQL2).

    Built once per request object and kept on it: the page, the count's plan check and
    the count of one STAC request each need them, and compiling a filter or a search
    area three times cost more CPU than the count's round trips. A request is frozen
    (``dataclasses.replace`` makes a new one, which builds its own), and SQLAlchemy's
    clauses are immutable, so statements share them; each caller gets its own list."""
    built = request.__dict__.get(_WHERE)
    if built is None:
        built = tuple(_build_where(request))
        object.__setattr__(request, _WHERE, built)  # a cache, not a field: frozen still
    return list(built)


def _build_where(request: SearchRequest) -> list[ColumnElement]:
    clauses: list[ColumnElement] = []
    if request.ids is not None:
        clauses.append(_one_of(items.c.id, request.ids))
    if request.collections is not None:
        clauses.append(_one_of(items.c.collection_id, request.collections))
    if request.bbox is not None:
        boxes = [
            func.ST_Intersects(items.c.geometry, func.ST_MakeEnvelope(*box, 4326))
            for box in bbox_boxes(request.bbox)
        ]
        clauses.append(or_(*boxes))
    if request.intersects is not None:
        clauses.append(func.ST_Intersects(items.c.geometry, _geometry_param(request.intersects)))
    interval = request.datetime
    if interval is not None and not interval.is_unbounded:
        if interval.end is not None:
            clauses.append(items.c.start_datetime <= interval.end)
        if interval.start is not None:
            clauses.append(items.c.end_datetime >= interval.start)
    if request.filter is not None:
        clauses.append(compile_filter(request.filter))
    if request.q:
        clauses.append(text_match(item_text(), request.q))
    if request.readable_private is not None:
        clauses.append(~items.c.collection_id.in_(hidden_collections(request.readable_private)))
    return clauses


def hidden_collections(readable_private: frozenset[str]) -> Select:
    """The ids of private collections not in ``readable_private`` (a subquery, so a
    collection made private is hidden from the next statement on)."""
    query = select(collections.c.id).where(collections.c.private)
    if readable_private:
        query = query.where(collections.c.id.not_in(sorted(readable_private)))
    return query


def _one_of(column: ColumnElement, values: Sequence[str]) -> ColumnElement:
    # `=` for one value: an IN list is expanded again for every execution.
    if len(values) == 1:
        return column == values[0]
    return column.in_(values) if values else false()


def item_text() -> ColumnElement:
    """The text free-text search reads in an item: its title, description and keywords
    (their JSON text), lowercased; NULL when it has none of them. The very expression of
    the trigram index of migration 0010, so ``LIKE '%term%'`` is answered from it."""
    return func.stacql_item_text(items.c.properties, type_=Text)


def _sort_value(key: SortField, value: Any) -> ColumnElement:
    if resolve_field(key.field).is_property:
        return cast(literal(dumps(value)), JSONB)
    return literal(value)


def _after(sort: Sequence[SortField], values: Sequence[Any], forward: bool) -> ColumnElement:
    """Rows strictly after ``values`` in the sort order (before it when not ``forward``)."""
    exprs = [sort_expression(k) for k in sort]
    params = [_sort_value(k, v) for k, v in zip(sort, values, strict=True)]
    ascending = [(k.direction == "asc") == forward for k in sort]
    if all(ascending) or not any(ascending):
        # One row comparison lets PostgreSQL walk the (datetime, collection, id) index.
        row, bound = tuple_(*exprs), tuple_(*params)
        return row > bound if ascending[0] else row < bound
    disjuncts = []
    for i, (expr, param, asc) in enumerate(zip(exprs, params, ascending, strict=True)):
        equal = [e == p for e, p in zip(exprs[:i], params[:i], strict=True)]
        disjuncts.append(and_(*equal, expr > param if asc else expr < param))
    return or_(*disjuncts)


def _order(sort: Sequence[SortField], forward: bool) -> list[ColumnElement]:
    return [
        sort_expression(k).asc() if (k.direction == "asc") == forward
        else sort_expression(k).desc()
        for k in sort
    ]


def time_splits(interval: Interval | None, spans: TimeSpans | None = None) -> list[ColumnElement]:
    """Conditions on ``datetime`` that split the matches of a time window by where their
    ``datetime`` is: one part (a single range) or several, to be read apart and merged.

    An item meets the window [S, T] when ``start_datetime <= T`` and ``end_datetime >= S``
    (see :func:`where_clauses`), but the page is ordered by ``datetime``, and PostgreSQL
    cannot bound a walk of the datetime index by conditions on the other two columns: an
    open window ``../T`` sorted newest first walked every item later than T. The matches
    fall into three exact parts: ``datetime`` inside [S, T], which bounds that walk; after
    T, only possible when ``datetime > start_datetime``; before S, only possible when
    ``datetime < end_datetime``. The last two conditions are written out because they
    are what lets the partial indexes of migration 0005 (items with a time range) serve
    those parts.

    With the ``spans`` of the searched collections (:mod:`catalog.search.time_spans`),
    every match lies in [S - lag, T + lead]. That one range is the single part when the
    widening is at most the window's length (a collection of instants: the window
    itself), so sub-partitions outside it are pruned and a spatial search keeps its
    time-ordered scan; otherwise the two outer parts are bounded by it, and left out
    when no range reaches that side. Without ``spans`` the outer parts have no bound.
    No split (an empty list) without a bound.
    """
    if interval is None or interval.is_unbounded:
        return []
    dt = items.c.datetime
    low = high = None
    if spans is not None:
        low, high = datetime_bounds(interval, spans)
        reach = spans.lead + spans.lag
        # An open window widened would read every item on its open side.
        if not reach or (
            interval.start is not None and interval.end is not None
            and reach <= interval.end - interval.start
        ):
            return [and_(
                true(),
                *([dt <= high] if high is not None else []),
                *([dt >= low] if low is not None else []),
            )]
    inside = and_(
        true(),
        *([dt <= interval.end] if interval.end is not None else []),
        *([dt >= interval.start] if interval.start is not None else []),
    )
    parts = [inside]
    if interval.end is not None and (spans is None or spans.lead):
        parts.append(and_(
            dt > interval.end, dt > items.c.start_datetime,
            *([dt <= high] if high is not None else []),
        ))
    if interval.start is not None and (spans is None or spans.lag):
        parts.append(and_(
            dt < interval.start, dt < items.c.end_datetime,
            *([dt >= low] if low is not None else []),
        ))
    return parts


# Beyond any item's time (RFC 3339 years have four digits), so the distance to them
# orders items newest first / oldest first.
_FAR_FUTURE: ColumnElement[Any] = literal_column("'200000-01-01 00:00:00+00'::timestamptz")
_FAR_PAST: ColumnElement[Any] = literal_column("'4000-01-01 00:00:00+00 BC'::timestamptz")


def _spatial(request: SearchRequest) -> bool:
    return request.bbox is not None or request.intersects is not None


def _leads_with_datetime(sort: Sequence[SortField]) -> bool:
    return canonical_name(sort[0].field) == "datetime"


def _nearest_page(
    columns: Sequence[ColumnElement],
    keys: Sequence[ColumnElement],
    sort: Sequence[SortField],
    forward: bool,
    clauses: list[ColumnElement],
    limit: int,
) -> CompoundSelect:
    """The page of a spatial search ordered by ``datetime`` first, read by one scan of the
    space-time index in time order.

    A spatial search ordered by time had two plans, both growing with the catalog: walk
    the datetime index testing each footprint (the newer items outside the area are read
    and dropped), or read every footprint in the area from the GiST index and sort them
    (3,000 rows for a 2-degree box over 300,000 items). The GiST index on
    ``(stacql_time_bucket(datetime), geometry, datetime)`` (btree_gist; migrations 0017
    and 0023) returns the matches of an area in time order itself, by distance to a time
    beyond all items (a KNN scan that visits only the index pages it needs: its pages
    are split by 30-day bucket first, so a time window opens only its buckets' pages
    over the area), but PostgreSQL 15 cannot sort ties of that order by collection and
    id on top of it. So the scan's first ``limit`` rows are kept except those at the
    last row's time (the edge), and every match at the edge is read again by an equality
    on ``datetime`` (a few rows); sorted in the full order, the first ``limit`` of them
    are the page: every match ahead of the edge in time is among the scan's rows.
    """
    dt = items.c.datetime
    newest_first = (sort[0].direction == "desc") == forward
    nearest = (
        select(*columns, *keys, dt.label("edge_dt"))
        .select_from(items)
        .where(and_(true(), *clauses))
        .order_by(dt.op("<->")(_FAR_FUTURE if newest_first else _FAR_PAST))
        .limit(limit)
        .cte("nearest")
    )
    edge = select(
        func.min(nearest.c.edge_dt) if newest_first else func.max(nearest.c.edge_dt)
    ).scalar_subquery()
    kept = [c for c in nearest.c if c.name != "edge_dt"]
    ahead = select(*kept).where(nearest.c.edge_dt != edge)
    at_edge = select(*columns, *keys).select_from(items).where(
        and_(true(), *clauses, dt == edge)
    )
    return union_all(ahead, at_edge).order_by(*_key_order(sort, forward)).limit(limit)


def _key_order(sort: Sequence[SortField], forward: bool) -> list[ColumnElement]:
    """The page's order by the key labels (``k0``, ``k1``...), for a merge of parts."""
    return [
        literal_column(f"k{i}").asc() if (k.direction == "asc") == forward
        else literal_column(f"k{i}").desc()
        for i, k in enumerate(sort)
    ]


def _page_query(
    columns: Sequence[ColumnElement],
    sort: Sequence[SortField],
    forward: bool,
    clauses: list[ColumnElement],
    limit: int,
    splits: list[ColumnElement],
    knn: bool = False,
) -> Select | CompoundSelect:
    """The page's SELECT: one ordered, limited query, or with ``splits`` one such query
    per part, merged (UNION ALL) and cut again in the same order; ``knn`` (a spatial
    search ordered by ``datetime`` first) reads it by a scan in time order
    (:func:`_nearest_page`)."""
    keys = [sort_expression(k).label(f"k{i}") for i, k in enumerate(sort)]
    if knn and not splits:
        return _nearest_page(columns, keys, sort, forward, clauses, limit)

    def part(*extra: ColumnElement) -> Select:
        return (
            select(*columns, *keys)
            .select_from(items)
            .where(and_(true(), *clauses, *extra))
            .order_by(*_order(sort, forward))
            .limit(limit)
        )

    if not splits:
        return part()
    # Ordered by the key labels, not through a subquery: expanding a subquery's columns
    # costs SQLAlchemy more time than PostgreSQL spends on the query.
    return union_all(*(part(split) for split in splits)).order_by(
        *_key_order(sort, forward)
    ).limit(limit)


def page_statement(
    request: SearchRequest,
    columns: Sequence[ColumnElement],
    spans: TimeSpans | None = None,
) -> Select | CompoundSelect:
    """The one statement :func:`search_rows` sends for a page of ``request`` (one row more
    than the page, to tell whether another follows), the time window split with the
    searched collections' ``spans`` when given (:func:`time_splits`). Raises
    ``InvalidCursor``."""
    sort = with_tie_break(request.sortby)
    cursor = decode_cursor(request.token, sort) if request.token else None
    forward = cursor is None or cursor.direction == "next"
    clauses = where_clauses(request)
    splits = time_splits(request.datetime, spans)
    if len(splits) == 1:
        clauses, splits = [*clauses, splits[0]], []
    knn = _spatial(request) and _leads_with_datetime(sort)
    if cursor is not None:
        clauses.append(_after(sort, cursor.values, forward))
        if knn:
            # Also on its own: the GiST index can bound its scan by it, not by a row.
            first = _sort_value(sort[0], cursor.values[0])
            descending = (sort[0].direction == "desc") == forward
            clauses.append(items.c.datetime <= first if descending else items.c.datetime >= first)
    return _page_query(columns, sort, forward, clauses, request.limit + 1, splits, knn)


async def sent_page_statement(
    session: AsyncSession, request: SearchRequest, columns: Sequence[ColumnElement]
) -> Select | CompoundSelect:
    """The statement :func:`search_rows` sends for a page of ``request``:
    :func:`page_statement` with the searched collections' time spans, looked up when the
    request has a bounded time window. Raises ``InvalidCursor``."""
    bounded = request.datetime is not None and not request.datetime.is_unbounded
    spans = await time_spans(session, request.collections) if bounded else None
    return page_statement(request, columns, spans)


def _row_values(row: Any, sort: Sequence[SortField]) -> tuple[Any, ...]:
    return tuple(row[f"k{i}"] for i in range(len(sort)))


async def count_matches(session: AsyncSession, request: SearchRequest) -> int:
    """The exact number of items matching the request's filters."""
    query = select(func.count()).select_from(items).where(*where_clauses(request))
    with translate_db_errors():
        return (await session.execute(query)).scalar_one()


@dataclass(frozen=True)
class RowPage:
    """One page of result rows holding the asked-for columns, with paging state.

    ``cursors[i]`` is a ``next`` token that continues right after row ``i``.
    """

    rows: list[Any]
    next_token: str | None
    prev_token: str | None
    has_more: bool
    sort: tuple[SortField, ...]

    @cached_property
    def cursors(self) -> list[str]:
        """The per-row tokens, encoded on first use (the STAC API never asks for them)."""
        return [
            encode_cursor(Cursor("next", _row_values(row, self.sort)), self.sort)
            for row in self.rows
        ]


async def search_rows(
    session: AsyncSession, request: SearchRequest, columns: Sequence[ColumnElement]
) -> RowPage:
    """Run a search and return one page of rows holding only ``columns``.

    Pages are cut by keyset on the sort values (never OFFSET), so reading page after
    page neither skips nor repeats an item. Raises ``InvalidSortBy`` for an unknown sort
    field and ``InvalidCursor`` for a token that does not belong to this sort.
    """
    if request.sortby:
        with translate_db_errors():  # collection ids PostgreSQL cannot hold (NUL)
            properties = (
                await known_properties(session, request.collections, request.readable_private)
                if any(canonical_name(k.field) not in CORE_FIELDS for k in request.sortby)
                else set()
            )
        check_sort_fields(request.sortby, properties)
    sort = with_tie_break(request.sortby)
    cursor = decode_cursor(request.token, sort) if request.token else None
    forward = cursor is None or cursor.direction == "next"
    with translate_db_errors():
        query = await sent_page_statement(session, request, columns)
        rows = (await session.execute(query)).mappings().all()
    more = len(rows) > request.limit
    rows = list(rows[: request.limit])
    if not forward:
        rows.reverse()
    next_token = prev_token = None
    if rows:
        if (more and forward) or (cursor is not None and not forward):
            next_token = encode_cursor(Cursor("next", _row_values(rows[-1], sort)), sort)
        if (cursor is not None and forward) or (more and not forward):
            prev_token = encode_cursor(Cursor("prev", _row_values(rows[0], sort)), sort)
    return RowPage(rows, next_token, prev_token, more if forward else True, sort)


async def search(session: AsyncSession, request: SearchRequest) -> SearchPage:
    """Run a search and return one page of STAC items in a stable, total order.

    See :func:`search_rows` for paging and errors; the total is counted when asked.
    """
    page = await search_rows(session, request, [item_json().label("item")])
    matched = await count_matches(session, request) if request.count else None
    return SearchPage(
        [row["item"] for row in page.rows], page.next_token, page.prev_token, matched
    )
