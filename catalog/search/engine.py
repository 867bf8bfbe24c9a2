"""The search engine both APIs use: filters, order, keyset pages and counts."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    Text,
    and_,
    cast,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.driver import Reader, fetch_mappings
from catalog.db.errors import translate_db_errors
from catalog.queryables import known_properties
from catalog.search.count import count_query
from catalog.search.cql2 import KEPT_FILTER_BYTES
from catalog.search.cursor import Cursor, decode_cursor, encode_cursor
from catalog.search.fields import CORE_FIELDS, canonical_name, items, resolve_field
from catalog.search.render import item_json
from catalog.search.request import SearchRequest
from catalog.search.sort import (
    SortField,
    check_sort_fields,
    sort_expression,
    with_tie_break,
)
from catalog.search.time_spans import TimeSpans, datetime_bounds, time_spans
from catalog.search.where import (
    TIME,
    Binder,
    Shape,
    Token,
    build_where,
    where_of,
)
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


def _cursor_params(sort: Sequence[SortField], bind: Binder) -> list[ColumnElement]:
    """The cursor's sort values as parameters ``cursor0``, ``cursor1``..., typed as their
    sort keys (a property's as JSON)."""
    params: list[ColumnElement] = []
    for i, key in enumerate(sort):
        if resolve_field(key.field).is_property:
            params.append(cast(bind(f"cursor{i}", Text()), JSONB))
        else:
            type_ = sort_expression(key).type
            # Without the column's collation, as the values were sent before (the row
            # comparison takes the column's).
            params.append(bind(f"cursor{i}", String() if isinstance(type_, String) else type_))
    return params


def _cursor_values(sort: Sequence[SortField], values: Sequence[Any]) -> dict[str, Any]:
    return {
        f"cursor{i}": dumps(value) if resolve_field(key.field).is_property else value
        for i, (key, value) in enumerate(zip(sort, values, strict=True))
    }


def _after(
    sort: Sequence[SortField], params: Sequence[ColumnElement], forward: bool
) -> ColumnElement:
    """Rows strictly after the cursor's ``params`` in the sort order (before them when
    not ``forward``)."""
    exprs = [sort_expression(k) for k in sort]
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


class TimeSplits(NamedTuple):
    """The parts of a time window's matches (:func:`time_splits`) and the values of
    their parameters."""

    parts: tuple[Shape, ...]
    values: dict[str, Any]


def time_splits(interval: Interval | None, spans: TimeSpans | None = None) -> TimeSplits:
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
    No split (no part) without a bound. Each part is a tuple of conditions
    (:func:`_split_condition`), with the values of their parameters.
    """
    if interval is None or interval.is_unbounded:
        return TimeSplits((), {})
    values: dict[str, Any] = {}
    ends: tuple[Token, ...] = ()
    starts: tuple[Token, ...] = ()
    if interval.end is not None:
        ends, values["window_end"] = (("dt<=", "window_end"),), interval.end
    if interval.start is not None:
        starts, values["window_start"] = (("dt>=", "window_start"),), interval.start
    highs: tuple[Token, ...] = ()
    lows: tuple[Token, ...] = ()
    if spans is not None:
        low, high = datetime_bounds(interval, spans)
        if high is not None:
            highs, values["split_high"] = (("dt<=", "split_high"),), high
        if low is not None:
            lows, values["split_low"] = (("dt>=", "split_low"),), low
        reach = spans.lead + spans.lag
        # An open window widened would read every item on its open side.
        if not reach or (
            interval.start is not None and interval.end is not None
            and reach <= interval.end - interval.start
        ):
            return TimeSplits(((*highs, *lows),), values)
    parts: list[Shape] = [(*ends, *starts)]
    if interval.end is not None and (spans is None or spans.lead):
        parts.append((("dt>", "window_end"), ("after_start",), *highs))
    if interval.start is not None and (spans is None or spans.lag):
        parts.append((("dt<", "window_start"), ("before_end",), *lows))
    return TimeSplits(tuple(parts), values)


_COMPARE = {"dt<=": operator.le, "dt>=": operator.ge, "dt>": operator.gt, "dt<": operator.lt}


def _split_condition(part: Shape, bind: Binder) -> ColumnElement:
    """The conditions of one part of :func:`time_splits`, and-ed."""
    dt = items.c.datetime
    conditions: list[ColumnElement] = [true()]
    for token in part:
        kind = token[0]
        if kind == "after_start":
            conditions.append(dt > items.c.start_datetime)
        elif kind == "before_end":
            conditions.append(dt < items.c.end_datetime)
        else:
            conditions.append(_COMPARE[str(kind)](dt, bind(str(token[1]), TIME)))
    return and_(*conditions)


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
    limit: ColumnElement[int],
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
    limit: ColumnElement[int],
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


@dataclass(frozen=True)
class PageShape:
    """What fixes the SQL of a page statement besides its values: the conditions, the
    sort keys, the cursor's direction (None on a first page), the parts of the time
    window (:func:`time_splits`), whether a spatial search is read in time order
    (:func:`_nearest_page`) and, on a first page, the rows read (the page's limit and one
    more; None on a next page, where the limit is a parameter).

    PostgreSQL plans a prepared statement for its values five times, then keeps the
    generic plan if it does not expect it to cost more. On first pages a parameter's
    LIMIT, which a generic plan takes for a tenth of the rows, made that plan look dearer
    and every page was planned again (0.2-0.45 ms of 0.6-1.0 for a page of 10 by
    collection, filter, sort or polygon over 100,000 items); with the limit in the SQL
    the generic plan is kept. On next pages it is the other way round: with the limit
    in the SQL their cursor's condition kept the custom plans (a bbox's next pages over
    1M items: 1.5 ms each against 0.9 with the generic plan), so there it stays a
    parameter."""

    where: Shape
    sort: tuple[SortField, ...]
    direction: str | None
    splits: tuple[Shape, ...]
    knn: bool
    limit: int | None


class _Columns:
    """The selected columns, compared by identity (SQLAlchemy's ``==`` on a column
    builds SQL); a cached statement holds them, so their ids are not reused meanwhile."""

    __slots__ = ("_hash", "columns")

    def __init__(self, columns: Sequence[ColumnElement]) -> None:
        self.columns = tuple(columns)
        self._hash = hash(tuple(map(id, self.columns)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Columns) and len(self.columns) == len(other.columns) and all(
            a is b for a, b in zip(self.columns, other.columns, strict=True)
        )


@dataclass(frozen=True)
class PageQuery:
    """A page statement, built once per shape and column list, and one request's values
    of its parameters."""

    statement: Select | CompoundSelect
    values: dict[str, Any]
    kept: bool = True
    """Whether the statement is kept for later requests of its shape (false for a long
    filter's, built for its request alone)."""

    def bound(self) -> Select | CompoundSelect:
        """The statement with the values bound, to run or EXPLAIN without them."""
        return self.statement.params(self.values)


def page_query(
    request: SearchRequest,
    columns: Sequence[ColumnElement],
    spans: TimeSpans | None = None,
) -> PageQuery:
    """The statement :func:`search_rows` sends for a page of ``request`` (one row more
    than the page, to tell whether another follows) and its parameters, the time window
    split with the searched collections' ``spans`` when given (:func:`time_splits`).
    Raises ``InvalidCursor``.

    Statements are kept by shape (:class:`PageShape`) and column list: a request of a
    shape seen before costs a few dictionaries, not an expression tree and its cache key.
    """
    sort = with_tie_break(request.sortby)
    cursor = decode_cursor(request.token, sort) if request.token else None
    where = where_of(request)
    splits = time_splits(request.datetime, spans)
    shape = PageShape(
        where.shape, sort, cursor.direction if cursor else None, splits.parts,
        _spatial(request) and _leads_with_datetime(sort),
        request.limit + 1 if cursor is None else None,
    )
    values = {**where.values, **splits.values}
    if cursor is not None:
        values.update(_cursor_values(sort, cursor.values), limit=request.limit + 1)
    columns_key = _Columns(columns)
    # A long filter's statement is built for its request alone: a kept statement holds
    # its filter's whole tree.
    if where.filter_bytes > KEPT_FILTER_BYTES:
        return PageQuery(_build_page(shape, columns_key), values, kept=False)
    return PageQuery(_kept_page(shape, columns_key), values)


def page_statement(
    request: SearchRequest,
    columns: Sequence[ColumnElement],
    spans: TimeSpans | None = None,
) -> Select | CompoundSelect:
    """:func:`page_query`'s statement with its values bound."""
    return page_query(request, columns, spans).bound()


def _build_page(shape: PageShape, columns: _Columns) -> Select | CompoundSelect:
    """The page statement of ``shape``, its values as named parameters."""
    bind = Binder()
    sort = shape.sort
    forward = shape.direction in (None, "next")
    clauses = build_where(shape.where, bind)
    splits = [_split_condition(part, bind) for part in shape.splits]
    if len(splits) == 1:
        clauses, splits = [*clauses, splits[0]], []
    if shape.direction is not None:
        params = _cursor_params(sort, bind)
        clauses.append(_after(sort, params, forward))
        if shape.knn:
            # Also on its own: the GiST index can bound its scan by it, not by a row.
            descending = (sort[0].direction == "desc") == forward
            dt = items.c.datetime
            clauses.append(dt <= params[0] if descending else dt >= params[0])
    limit: ColumnElement[int] = (
        bind("limit", Integer()) if shape.limit is None
        else literal_column(str(int(shape.limit)), Integer())
    )
    return _page_query(columns.columns, sort, forward, clauses, limit, splits, shape.knn)


_kept_page = lru_cache(maxsize=512)(_build_page)


async def sent_page_query(
    session: Reader, request: SearchRequest, columns: Sequence[ColumnElement]
) -> PageQuery:
    """What :func:`search_rows` sends for a page of ``request``: :func:`page_query` with
    the searched collections' time spans, looked up when the request has a bounded time
    window. Raises ``InvalidCursor``."""
    bounded = request.datetime is not None and not request.datetime.is_unbounded
    spans = await time_spans(session, request.collections) if bounded else None
    return page_query(request, columns, spans)


def _row_values(row: Any, sort: Sequence[SortField]) -> tuple[Any, ...]:
    return tuple(row[f"k{i}"] for i in range(len(sort)))


async def count_matches(session: Reader, request: SearchRequest) -> int:
    """The exact number of items matching the request's filters."""
    statement, values, kept = count_query(request)
    with translate_db_errors():
        if kept:
            return (await fetch_mappings(session, statement, values))[0]["n"]
        return (await session.execute(statement, values)).scalar_one()


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
    session: Reader, request: SearchRequest, columns: Sequence[ColumnElement]
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
        query = await sent_page_query(session, request, columns)
        rows: Sequence[Mapping[Any, Any]]
        if query.kept:
            rows = await fetch_mappings(session, query.statement, query.values)
        else:
            rows = (await session.execute(query.statement, query.values)).mappings().all()
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


@cache
def _item_document() -> tuple[ColumnElement, ...]:
    return (item_json().label("item"),)


async def search(session: AsyncSession, request: SearchRequest) -> SearchPage:
    """Run a search and return one page of STAC items in a stable, total order.

    See :func:`search_rows` for paging and errors; the total is counted when asked.
    """
    page = await search_rows(session, request, _item_document())
    matched = await count_matches(session, request) if request.count else None
    return SearchPage(
        [row["item"] for row in page.rows], page.next_token, page.prev_token, matched
    )
