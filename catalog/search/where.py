"""The WHERE clause of a search, in two halves: its shape (which conditions, and how many
values each takes) and its values.

A page statement is built once per shape (:mod:`catalog.search.engine`) and run with each
request's values as bound parameters: building a statement's expression tree, and
SQLAlchemy's cache key of it, cost more CPU than PostgreSQL spends on a selective page.
Other statements built from a search's conditions take them with their values bound
(:func:`where_clauses`).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    DateTime,
    Float,
    Select,
    Text,
    bindparam,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.types import TypeEngine

from catalog.geometry import bbox_boxes
from catalog.search.cql2 import FilterTemplate, compile_template, filter_plan, filter_template
from catalog.search.fields import items
from catalog.search.freetext import any_like, contains_pattern
from catalog.search.lookup import collections
from catalog.search.request import SearchRequest

Token = tuple[Hashable, ...]
"""One condition of a shape: its kind, then what its SQL depends on besides values."""
Shape = tuple[Token, ...]

TIME = DateTime(timezone=True)


@dataclass(frozen=True)
class Where:
    """A request's conditions: the ``shape`` that fixes their SQL and the ``values`` of
    their bound parameters, by name."""

    shape: Shape
    values: dict[str, Any]
    filter_bytes: int = 0
    """The length of the filter's template key in the shape (0: no filter)."""


class Binder:
    """Makes the bound parameters of a statement: placeholders by name for a statement
    built once per shape (``values`` None), or parameters holding ``values`` under
    unique names, for a statement built for one request."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values = values

    def __call__(
        self, name: str, type_: TypeEngine[Any] | None = None, expanding: bool = False
    ) -> BindParameter[Any]:
        """The parameter called ``name``."""
        if self.values is None:
            return bindparam(name, type_=type_, expanding=expanding)
        return bindparam(name, self.values[name], type_=type_, expanding=expanding, unique=True)


def where_of(request: SearchRequest) -> Where:
    """The shape and values of the request's conditions (ids, collections, space, time,
    CQL2, free text, the caller's hidden collections).

    Made once per request object and kept on it, as :func:`where_clauses` keeps its
    clauses: a page and its count read the same. Callers copy ``values`` before adding
    to them."""
    where = request.__dict__.get(_WHERE_OF)
    if where is None:
        where = _where_of(request)
        object.__setattr__(request, _WHERE_OF, where)  # a cache, not a field: frozen still
    return where


_WHERE_OF = "_where_of"


def _where_of(request: SearchRequest) -> Where:
    shape: list[Token] = []
    values: dict[str, Any] = {}
    for kind, listed in (("ids", request.ids), ("collections", request.collections)):
        if listed is not None:
            shape.append((kind, min(len(listed), 2)))
            values[kind] = listed[0] if len(listed) == 1 else list(listed)
    _add_area(request, shape, values)
    interval = request.datetime
    if interval is not None and interval.end is not None:
        shape.append(("starts_by",))
        values["window_end"] = interval.end
    if interval is not None and interval.start is not None:
        shape.append(("ends_from",))
        values["window_start"] = interval.start
    filter_bytes = 0
    if request.filter is not None:
        # Its template: filters that differ only in their literals share their SQL.
        template = filter_template(request.filter)
        shape.append(("filter", template))
        values.update(filter_plan(template).values(template.literals))
        filter_bytes = len(template.key)
    if request.q:
        shape.append(("q", len(request.q)))
        values.update({f"q{i}": contains_pattern(t) for i, t in enumerate(request.q)})
    if request.readable_private is not None:
        shape.append(("hidden", bool(request.readable_private)))
        if request.readable_private:
            values["readable"] = sorted(request.readable_private)
    return Where(tuple(shape), values, filter_bytes)


def _add_area(request: SearchRequest, shape: list[Token], values: dict[str, Any]) -> None:
    if request.bbox is not None:
        boxes = bbox_boxes(request.bbox)
        shape.append(("bbox", len(boxes)))
        for i, box in enumerate(boxes):
            values.update({f"bbox{i}_{j}": float(v) for j, v in enumerate(box)})
    if request.intersects is not None:
        shape.append(("intersects",))
        values["area"] = shapely.to_wkb(request.intersects, hex=True)


def build_where(shape: Shape, bind: Binder) -> list[ColumnElement[bool]]:
    """The conditions of ``shape`` with parameters from ``bind``."""
    clauses: list[ColumnElement[bool]] = []
    for token in shape:
        kind = token[0]
        if kind == "ids":
            clauses.append(_one_of(items.c.id, "ids", token[1], bind))
        elif kind == "collections":
            clauses.append(_one_of(items.c.collection_id, "collections", token[1], bind))
        elif kind == "bbox":
            clauses.append(or_(*(
                func.ST_Intersects(items.c.geometry, func.ST_MakeEnvelope(
                    *(bind(f"bbox{i}_{j}", Float()) for j in range(4)), 4326
                ))
                for i in range(int(token[1]))  # type: ignore[call-overload]
            )))
        elif kind == "intersects":
            area = func.ST_GeomFromWKB(func.decode(bind("area", Text()), "hex"), 4326)
            clauses.append(func.ST_Intersects(items.c.geometry, area))
        elif kind == "starts_by":
            clauses.append(items.c.start_datetime <= bind("window_end", TIME))
        elif kind == "ends_from":
            clauses.append(items.c.end_datetime >= bind("window_start", TIME))
        elif kind == "filter":
            clauses.append(_filter_clause(token[1], bind))  # type: ignore[arg-type]
        elif kind == "q":
            document = item_text()
            count = int(token[1])  # type: ignore[call-overload]
            clauses.append(any_like(document, [bind(f"q{i}", Text()) for i in range(count)]))
        elif kind == "hidden":
            hidden = _hidden(bind if token[1] else None)
            clauses.append(~items.c.collection_id.in_(hidden))
        else:
            raise ValueError(f"unknown condition {kind!r}")
    return clauses


def _filter_clause(template: FilterTemplate, bind: Binder) -> ColumnElement[bool]:
    if bind.values is None:  # placeholders: the plan's own expression serves
        return filter_plan(template).expression
    return compile_template(template, bind)


def where_clauses(request: SearchRequest) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a request with their values bound, for statements built
    for it alone (aggregations, exports, asset searches, saved searches' matching).

    Built once per request object and kept on it: compiling a filter or a search area
    twice for one request cost more CPU than a statement's round trip. A request is
    frozen (``dataclasses.replace`` makes a new one, which builds its own), and
    SQLAlchemy's clauses are immutable, so statements share them; each caller gets its
    own list. Pages and counts use statements kept per shape instead
    (``catalog.search.engine.page_query``, ``catalog.search.count.count_query``)."""
    built = request.__dict__.get(_WHERE)
    if built is None:
        where = where_of(request)
        built = tuple(build_where(where.shape, Binder(where.values)))
        object.__setattr__(request, _WHERE, built)  # a cache, not a field: frozen still
    return list(built)


_WHERE = "_where_clauses"


def hidden_collections(readable_private: frozenset[str]) -> Select[Any]:
    """The ids of private collections not in ``readable_private`` (a subquery, so a
    collection made private is hidden from the next statement on)."""
    readable = sorted(readable_private)
    return _hidden(Binder({"readable": readable}) if readable else None)


def _hidden(bind: Binder | None) -> Select[Any]:
    query = select(collections.c.id).where(collections.c.private)
    if bind is not None:
        query = query.where(collections.c.id.not_in(bind("readable", expanding=True)))
    return query


def _one_of(
    column: ColumnElement[Any], name: str, arity: Any, bind: Binder
) -> ColumnElement[bool]:
    # `=` for one value: an IN list is expanded again for every execution.
    if arity == 1:
        return column == bind(name, column.type)
    return column.in_(bind(name, column.type, expanding=True)) if arity else false()


def item_text() -> ColumnElement[str]:
    """The text free-text search reads in an item: its title, description and keywords
    (their JSON text), lowercased; NULL when it has none of them. The very expression of
    the trigram index of migration 0010, so ``LIKE '%term%'`` is answered from it."""
    return func.stacql_item_text(items.c.properties, type_=Text)
