"""A validated search request: what both APIs hand to ``catalog.search``."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from catalog.errors import InvalidFilter, InvalidInput
from catalog.geometry import GEOMETRY_TYPES, parse_bbox, parse_search_area
from catalog.search.cql2 import parse_filter
from catalog.search.freetext import parse_terms
from catalog.search.nesting import check_filter_nesting
from catalog.search.query_ext import query_to_cql2
from catalog.search.sort import SortField, parse_sortby, sort_fields
from catalog.temporal import Interval, parse_interval

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
MAX_LIST_ENTRIES = 1_000
"""Longest ``ids`` or ``collections`` list, and longest list in a filter (``in``, ``a_*``)."""
MAX_FILTER_NODES = 2_000
"""Nodes of a filter (operators, properties, values; a geometry counts once). Each value
becomes a bound parameter, and a statement takes at most 32,767 of them (issue 16: an
``or`` of 33,000 terms reached the driver and came back as a 503 quoting the SQL)."""


@dataclass(frozen=True)
class SearchRequest:
    """Parsed and validated search parameters (STAC Item Search semantics)."""

    ids: tuple[str, ...] | None = None
    collections: tuple[str, ...] | None = None
    bbox: tuple[float, ...] | None = None
    intersects: BaseGeometry | None = None
    datetime: Interval | None = None
    filter: dict[str, Any] | None = None
    sortby: tuple[SortField, ...] = ()
    limit: int = DEFAULT_LIMIT
    token: str | None = None
    count: bool = False
    q: tuple[str, ...] = ()
    readable_private: frozenset[str] | None = frozenset()
    """Private collections the caller may read (None: all); others are invisible."""
    extra: dict[str, Any] = field(default_factory=dict)


def _strings(value: str | Sequence[str] | None, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in value.split(",") if v]
    if not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of strings")
    if len(value) > MAX_LIST_ENTRIES:
        raise InvalidInput(f"{name}: {len(value)} entries; at most {MAX_LIST_ENTRIES}")
    return tuple(value)


def _limit(value: Any, max_limit: int) -> int:
    if value is None:
        return DEFAULT_LIMIT
    # int() would quietly turn True into 1 and 2.5 into 2.
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidInput(f"limit {value!r} is not an integer")
    try:
        limit = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"limit {value!r} is not an integer") from exc
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    return min(limit, max_limit)


def build_search(
    *,
    ids: str | Sequence[str] | None = None,
    collections: str | Sequence[str] | None = None,
    bbox: str | Sequence[Any] | None = None,
    intersects: dict[str, Any] | None = None,
    datetime: str | None = None,
    filter: str | dict[str, Any] | None = None,
    filter_lang: str | None = None,
    sortby: str | Sequence[Any] | None = None,
    limit: Any = None,
    token: str | None = None,
    count: bool = False,
    q: str | Sequence[str] | None = None,
    query: str | dict[str, Any] | None = None,
    max_limit: int = MAX_LIMIT,
    readable_private: frozenset[str] | None = frozenset(),
) -> SearchRequest:
    """Validate raw search parameters (query-string or JSON forms) into a request.

    Search areas (``intersects`` and geometries in the filter) are parsed and repaired here,
    which may take a CPU for a while: callers on an event loop run this in a thread
    (``asyncio.to_thread``) unless :func:`light_search_terms` says it costs less.
    Raises a subclass of ``InvalidInput`` naming the parameter at fault.
    """
    if bbox is not None and intersects is not None:
        raise InvalidInput("bbox and intersects cannot be used together")
    if isinstance(bbox, str):
        bbox = bbox.split(",")
    return SearchRequest(
        ids=_strings(ids, "ids"),
        collections=_strings(collections, "collections"),
        bbox=parse_bbox(bbox) if bbox is not None else None,
        intersects=parse_search_area(intersects) if intersects else None,
        datetime=parse_interval(datetime) if datetime else None,
        filter=_combined_filter(filter, filter_lang, query),
        sortby=parse_sortby(sortby),
        limit=_limit(limit, max_limit),
        token=token or None,
        count=count,
        q=tuple(parse_terms(q)),
        readable_private=readable_private,
    )


LIGHT_POSITIONS = 64
"""Most positions (search area and filter geometries together) a request may hold for
:func:`light_search_terms`: repairing 64 positions takes about 0.15 ms, what a thread
hand-off costs in CPU (and twice that in latency)."""
LIGHT_NODES = 256
"""Most JSON nodes besides positions (lists, objects, values) of a light request."""
LIGHT_FILTER_TEXT = 1024
"""Longest CQL2 text filter :func:`light_search_terms` reads as light (64 positions of
WKT take about as many characters)."""


def light_search_terms(intersects: Any = None, filter: Any = None) -> bool:
    """Whether building a request of these terms costs less than handing it to a thread:
    at most :data:`LIGHT_POSITIONS` positions in the search area and the filter's
    geometries, :data:`LIGHT_NODES` other nodes, and a text filter of at most
    :data:`LIGHT_FILTER_TEXT` characters.

    Reads no more than those budgets, whatever the terms' size."""
    positions, nodes = LIGHT_POSITIONS, LIGHT_NODES
    # Iterators, not lists of children: a huge list is read only as far as the budgets.
    stack: list[Iterator[Any]] = [iter([t for t in (intersects, filter) if t is not None])]
    while stack:
        node = next(stack[-1], _END)
        if node is _END:
            stack.pop()
            continue
        if isinstance(node, list | tuple) and 2 <= len(node) <= 4 and isinstance(
            node[0], int | float
        ):
            positions -= 1  # a position (or a short list of numbers): not walked
            if positions < 0:
                return False
            continue
        nodes -= 1
        if nodes < 0 or (isinstance(node, str) and len(node) > LIGHT_FILTER_TEXT):
            return False
        if isinstance(node, dict):
            stack.append(iter(node.values()))
        elif isinstance(node, list | tuple):
            stack.append(iter(node))
    return True


_END = object()


def typed_search(
    *,
    ids: Sequence[str] | None = None,
    collections: Sequence[str] | None = None,
    bbox: Sequence[float] | None = None,
    intersects: dict[str, Any] | None = None,
    datetime: Interval | None = None,
    filter: dict[str, Any] | None = None,
    sortby: Sequence[SortField] = (),
    limit: int | None = None,
    token: str | None = None,
    count: bool = False,
    q: str | Sequence[str] | None = None,
    max_limit: int = MAX_LIMIT,
    readable_private: frozenset[str] | None = frozenset(),
) -> SearchRequest:
    """Validate typed search terms into a request: an interval, sort keys and CQL2-JSON
    as they are, with no string form to parse (what GraphQL hands in).

    The filter is checked as ``build_search`` checks a CQL2-JSON one (it must parse; size,
    lists and geometry literals are bounded and repaired), so this too belongs in a
    thread. Raises a subclass of ``InvalidInput`` naming the parameter at fault.
    """
    if bbox is not None and intersects is not None:
        raise InvalidInput("bbox and intersects cannot be used together")
    return SearchRequest(
        ids=_strings(ids, "ids"),
        collections=_strings(collections, "collections"),
        bbox=parse_bbox(bbox) if bbox is not None else None,
        intersects=parse_search_area(intersects) if intersects else None,
        datetime=None if datetime is None or datetime.is_unbounded else datetime,
        filter=_combined_filter(filter, "cql2-json", None),
        sortby=sort_fields(sortby),
        limit=_limit(limit, max_limit),
        token=token or None,
        count=count,
        q=tuple(parse_terms(q)),
        readable_private=readable_private,
    )


def _combined_filter(
    filter: str | dict[str, Any] | None,
    filter_lang: str | None,
    query: str | dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The CQL2 filter AND the Query-extension conditions, as one CQL2-JSON tree."""
    parsed = None
    if filter not in (None, "", {}):
        check_filter_nesting(filter)  # before a parser recurses into it
        parsed = parse_filter(filter, filter_lang)
    if isinstance(query, str):
        try:
            query = orjson.loads(query)
        except orjson.JSONDecodeError as exc:
            raise InvalidFilter(f"query is not JSON: {exc}") from exc
    translated = query_to_cql2(query)
    if translated is None or parsed is None:
        combined = parsed or translated
    else:
        combined = {"op": "and", "args": [parsed, translated]}
    if combined is not None:
        _check_filter_size_and_areas(combined)
    return combined


_NOT_NUMBERS = frozenset({"nan", "infinity", "inf"})


def _check_finite(value: Any) -> None:
    """Refuse a number that is not finite, and the property cql2-text makes of NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidFilter(f"filter: {value} is not a finite number")
    if isinstance(value, dict) and str(value.get("property")).lower() in _NOT_NUMBERS:
        # cql2-text reads `gsd = NaN` as two properties compared, which no index serves:
        # it scanned 1.1M items for 22 s (issue 16).
        raise InvalidFilter(
            f"filter: {value['property']} is not a number in CQL2 (it would name a "
            "property); use finite numbers"
        )


def _check_filter_size_and_areas(filter_json: dict[str, Any]) -> None:
    """Refuse a filter of more than ``MAX_FILTER_NODES`` nodes, with a list longer than
    ``MAX_LIST_ENTRIES`` or a number that is not finite; parse every geometry literal as
    a search area and put its valid form in its place, so that the compiler, which runs
    on the event loop, only reads valid geometries (cheap) and never repairs one."""
    if not isinstance(filter_json, dict):
        raise InvalidFilter("filter must be a CQL2 expression (a JSON object or cql2-text)")
    pending: list[dict[str, Any] | list[Any]] = [filter_json]  # a stack: filters nest deeply
    nodes = 1
    while pending:
        node = pending.pop()
        if isinstance(node, list) and len(node) > MAX_LIST_ENTRIES:
            raise InvalidFilter(
                f"filter: a list of {len(node)} values; at most {MAX_LIST_ENTRIES}"
            )
        entries = list(node.items() if isinstance(node, dict) else enumerate(node))
        nodes += len(entries)
        if nodes > MAX_FILTER_NODES:
            raise InvalidFilter(f"filter: more than {MAX_FILTER_NODES} terms and values")
        for key, child in entries:
            _check_finite(child)
            if isinstance(child, dict) and child.get("type") in GEOMETRY_TYPES:
                node[key] = shapely.geometry.mapping(parse_search_area(child, label="filter"))  # type: ignore[call-overload, index]
            elif isinstance(child, dict | list):
                pending.append(child)
