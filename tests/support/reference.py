"""An independent reference implementation of item search, for checking ``catalog.search``.

It reads the STAC items straight from the source files of ``../shared/data/stac`` (its own
walk, not the loader's) and answers searches with shapely and the standard library only:
no SQL, no ``catalog`` code. Semantics follow the STAC API:

* ``bbox`` selects items whose geometry intersects the box; a 6-number bbox uses
  [0, 1, 3, 4]; a west edge greater than the east edge crosses the antimeridian and
  means the union of [west, 180] and [-180, east].
* ``intersects`` selects items whose geometry intersects the GeoJSON geometry.
* ``datetime`` selects items whose [start, end] range (start = end = ``datetime`` for an
  instant item; ``start_datetime`` / ``end_datetime`` otherwise) meets the instant or
  overlaps the interval; ``..`` or an empty side leaves it open.
* CQL2-JSON filters are evaluated with SQL's three-valued logic: a missing property, a
  JSON null or a value of another JSON type than the literal makes a comparison unknown,
  and ``not`` of unknown is unknown (the item does not match).
* Order: the sort keys (default ``-datetime``, where datetime is ``properties.datetime`` or
  ``start_datetime`` when null), then collection and id in the direction of the last key.
  Property values order as PostgreSQL jsonb does: null (also for a missing property) <
  string < number < boolean < array < object; strings by code point (the C collation of
  the test databases).

The ``cql2`` library's ``Expr.matches`` is not used: it raises "Could not reduce
expression to boolean" as soon as an item lacks a property the filter names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson
import shapely
import shapely.errors
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from tests.support.paths import STAC_DATA

Key = tuple[str, str]
SUFFIXES = (".json", ".geojson", ".ndjson", ".jsonl")
LINE_SUFFIXES = (".ndjson", ".jsonl")

# --- Reading the source files


def _linked_files(doc: dict[str, Any], base: Path) -> list[Path]:
    """Local files a catalog or collection links to as children or items."""
    hrefs = [
        link.get("href", "") for link in doc.get("links", [])
        if isinstance(link, dict) and link.get("rel") in ("child", "item")
    ]
    paths = [(base / href).resolve() for href in hrefs if "://" not in href]
    return [path for path in paths if path.is_file()]


def _walk_links(
    path: Path, collection: str | None, reached: dict[Path, str | None]
) -> None:
    """Record every file reachable from ``path`` with the collection enclosing it."""
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return
    if not isinstance(doc, dict) or doc.get("type") not in ("Catalog", "Collection"):
        return
    if doc["type"] == "Collection":
        collection = doc.get("id")
    for target in _linked_files(doc, path.parent):
        if target not in reached:
            reached[target] = collection
            _walk_links(target, collection, reached)


def _file_features(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix in LINE_SUFFIXES:
        for line in path.read_bytes().splitlines():
            if line.strip():
                yield orjson.loads(line)
        return
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        yield from doc.get("features") or []
    elif isinstance(doc, dict):
        yield doc


def _loadable(doc: Any) -> bool:
    """What any catalog must accept: an id, a collection, properties, a valid geometry."""
    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        return False
    if not all(isinstance(doc.get(k), str) and doc[k] for k in ("id", "collection")):
        return False
    if not isinstance(doc.get("properties"), dict):
        return False
    if doc.get("geometry") is None:
        return True
    try:
        return shapely.geometry.shape(doc["geometry"]).is_valid
    except (AttributeError, TypeError, ValueError, IndexError, shapely.errors.GEOSException):
        return False


def read_source_items(root: Path = STAC_DATA) -> dict[Key, list[dict[str, Any]]]:
    """Every valid item in the files under ``root``, keyed by (collection, id).

    Items come from ndjson lines, JSON items, item collections and static catalogs
    (followed through their child and item links; an item without ``collection`` takes
    the enclosing collection's id). A key holds each distinct version found.
    """
    files = sorted(p.resolve() for p in root.rglob("*") if p.suffix in SUFFIXES)
    reached: dict[Path, str | None] = {}
    for path in files:
        if path.suffix not in LINE_SUFFIXES:
            _walk_links(path, None, reached)
    found: dict[Key, list[dict[str, Any]]] = {}
    for path in files:
        for doc in _file_features(path):
            if isinstance(doc, dict) and path in reached and not doc.get("collection"):
                doc = {**doc, "collection": reached[path]}
            if _loadable(doc):
                versions = found.setdefault((doc["collection"], doc["id"]), [])
                if doc not in versions:
                    versions.append(doc)
    return found


# --- Items as the reference sees them

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def instant(text: Any) -> datetime | None:
    """An RFC 3339 date-time as an aware UTC datetime (microseconds), else None."""
    match = _RFC3339.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    fraction = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{day}T{clock}.{fraction}{offset}").astimezone(UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class RefItem:
    """One item: its key, footprint, time range and properties."""

    collection: str
    id: str
    geometry: BaseGeometry | None
    nominal: datetime
    start: datetime
    end: datetime
    properties: dict[str, Any]

    @property
    def key(self) -> Key:
        return (self.collection, self.id)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> RefItem:
        props = doc["properties"]
        start = instant(props.get("start_datetime")) or instant(props.get("datetime"))
        end = instant(props.get("end_datetime")) or instant(props.get("datetime"))
        geometry = doc.get("geometry")
        return cls(
            collection=doc["collection"],
            id=doc["id"],
            geometry=shapely.geometry.shape(geometry) if geometry else None,
            nominal=instant(props.get("datetime")) or start,
            start=start,
            end=end,
            properties=props,
        )


# --- Space and time parameters


def bbox_area(bbox: Sequence[float]) -> BaseGeometry:
    """The area of a 2D or 3D bbox, as two boxes when it crosses the antimeridian."""
    west, south, east, north = (bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else bbox
    if west <= east:
        return shapely.box(west, south, east, north)
    return shapely.union(
        shapely.box(west, south, 180, north), shapely.box(-180, south, east, north)
    )


def _side(text: str) -> datetime | None:
    if text in ("", ".."):
        return None
    moment = instant(text)
    if moment is None:
        raise ValueError(f"the reference takes valid datetimes only, not {text!r}")
    return moment


def time_window(value: str) -> tuple[datetime | None, datetime | None]:
    """(start, end) of the STAC datetime parameter; None on an open side."""
    if "/" not in value:
        return _side(value), _side(value)
    first, last = value.split("/")
    return _side(first), _side(last)


def overlaps(item: RefItem, start: datetime | None, end: datetime | None) -> bool:
    """True when the item's [start, end] meets the closed window [start, end]."""
    return (end is None or item.start <= end) and (start is None or item.end >= start)


# --- CQL2-JSON, three-valued

Truth = bool | None  # None: unknown
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
_MISSING = object()


def _all(values: Iterable[Truth]) -> Truth:
    values = list(values)
    return False if False in values else (None if None in values else True)


def _any(values: Iterable[Truth]) -> Truth:
    values = list(values)
    return True if True in values else (None if None in values else False)


def _json_kind(value: Any) -> str:
    if value is None or value is _MISSING:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "other")


def _day(text: str) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(microseconds=1)


def _like(pattern: str) -> re.Pattern[str]:
    parts, chars = [], iter(pattern)
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        else:
            parts.append({"%": ".*", "_": "."}.get(char, re.escape(char)))
    return re.compile("".join(parts), re.DOTALL)


_ORDER = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_ALLEN = {
    "t_intersects": lambda s, e, a, b: s <= b and e >= a,
    "t_disjoint": lambda s, e, a, b: not (s <= b and e >= a),
    "t_before": lambda s, e, a, b: e < a,
    "t_after": lambda s, e, a, b: s > b,
    "t_during": lambda s, e, a, b: s > a and e < b,
    "t_contains": lambda s, e, a, b: s < a and e > b,
    "t_equals": lambda s, e, a, b: s == a and e == b,
}
_SPATIAL = {
    "s_intersects": shapely.intersects,
    "s_disjoint": shapely.disjoint,
    "s_within": shapely.within,
    "s_contains": shapely.contains,
    "s_equals": shapely.equals,
}


class Evaluation:
    """A CQL2-JSON filter evaluated on one item."""

    def __init__(self, item: RefItem) -> None:
        self.item = item

    def raw(self, name: str) -> Any:
        """A property's JSON value (``_MISSING`` when absent)."""
        name = name.removeprefix("properties.")
        core = {"id": self.item.id, "collection": self.item.collection}
        return core[name] if name in core else self.item.properties.get(name, _MISSING)

    def value(self, node: Any) -> tuple[str, Any]:
        """(kind, value) of a scalar argument; kind "null" makes comparisons unknown."""
        if isinstance(node, dict) and "property" in node:
            name = node["property"].removeprefix("properties.")
            times = {"datetime": self.item.nominal, "start_datetime": self.item.start,
                     "end_datetime": self.item.end}
            if name in times:
                return "timestamp", times[name]
            raw = self.raw(name)
            return _json_kind(raw), raw
        if isinstance(node, dict) and "timestamp" in node:
            return "timestamp", instant(node["timestamp"])
        if isinstance(node, dict) and node.get("op") == "casei":
            kind, inner = self.value(node["args"][0])
            return (kind, inner.lower()) if kind == "string" else ("null", None)
        return _json_kind(node), node

    def compare(self, op: str, left: Any, right: Any) -> Truth:
        (kind, a), (other, b) = self.value(left), self.value(right)
        if kind == "string" and other == "timestamp":
            kind, a = "timestamp", instant(a)
        if other == "string" and kind == "timestamp":
            other, b = "timestamp", instant(b)
        if "null" in (kind, other) or kind != other or a is None or b is None:
            return None
        return _ORDER[op](a, b)

    def time_range(self, node: Any) -> tuple[datetime, datetime] | None:
        if isinstance(node, dict) and node.get("property") == "datetime":
            return self.item.start, self.item.end
        if isinstance(node, dict) and "date" in node:
            return _day(node["date"])
        if isinstance(node, dict) and "interval" in node:
            first, last = node["interval"]
            low = EARLIEST if first == ".." else self.time_range(_bound(first))[0]
            high = LATEST if last == ".." else self.time_range(_bound(last))[1]
            return low, high
        kind, moment = self.value(node)
        moment = instant(moment) if kind == "string" else moment
        return (moment, moment) if isinstance(moment, datetime) else None

    def geometry(self, node: Any) -> BaseGeometry | None:
        if node == {"property": "geometry"}:
            return self.item.geometry
        if "bbox" in node:
            return bbox_area(node["bbox"])
        return shapely.geometry.shape(node)

    def truth(self, node: Any) -> Truth:
        """The filter's truth value for the item: True, False or None (unknown)."""
        if isinstance(node, bool):
            return node
        op, args = node["op"].lower(), node.get("args", [])
        if op == "and":
            return _all(self.truth(a) for a in args)
        if op == "or":
            return _any(self.truth(a) for a in args)
        if op == "not":
            inner = self.truth(args[0])
            return None if inner is None else not inner
        if op in _ORDER:
            return self.compare(op, args[0], args[1])
        if op in _SPATIAL:
            mine, other = self.geometry(args[0]), self.geometry(args[1])
            return None if mine is None else bool(_SPATIAL[op](mine, other))
        if op in _ALLEN:
            mine, other = self.time_range(args[0]), self.time_range(args[1])
            return None if mine is None or other is None else _ALLEN[op](*mine, *other)
        if op.startswith("a_"):
            return self.array(op, args[0], args[1])
        return self.predicate(op, args)

    def predicate(self, op: str, args: list[Any]) -> Truth:
        """between, in, like and isNull."""
        if op == "between":
            return _all([self.compare(">=", args[0], args[1]),
                         self.compare("<=", args[0], args[2])])
        if op == "in":
            return _any(self.compare("=", args[0], choice) for choice in args[1])
        if op == "like":
            kind, text = self.value(args[0])
            return bool(_like(args[1]).fullmatch(text)) if kind == "string" else None
        if op == "isnull":
            return self.value(args[0])[0] == "null"
        raise ValueError(f"the reference does not evaluate {op!r}")

    def array(self, op: str, node: Any, values: list[Any]) -> Truth:
        kind, array = self.value(node)
        if kind != "array":
            return None
        if op == "a_contains":
            return all(v in array for v in values)
        if op == "a_containedby":
            return all(v in values for v in array)
        if op == "a_overlaps":
            return any(v in array for v in values)
        return array == values


def _bound(text: str) -> dict[str, str]:
    return {"date": text} if len(text) == 10 else {"timestamp": text}


# --- Order

_JSONB_RANK = {"null": 0, "string": 1, "number": 2, "boolean": 3, "array": 4, "object": 5}


def parse_sortby(sortby: str | Sequence[dict[str, str]] | None) -> list[tuple[str, str]]:
    """[(field, "asc" | "desc")] from "-datetime,+id" or [{"field", "direction"}]."""
    if not sortby:
        return [("datetime", "desc")]
    if isinstance(sortby, str):
        return [
            (part[1:], "desc") if part.startswith("-") else (part.lstrip("+"), "asc")
            for part in sortby.split(",")
        ]
    return [(entry["field"], entry.get("direction", "asc")) for entry in sortby]


def _sort_value(item: RefItem, name: str) -> tuple[Any, ...]:
    name = name.removeprefix("properties.")
    core = {"id": item.id, "collection": item.collection, "datetime": item.nominal,
            "start_datetime": item.start, "end_datetime": item.end}
    if name in core:
        return (0, core[name])
    value = item.properties.get(name)
    kind = _json_kind(value)
    # Within one JSON type, values compare naturally (numbers as numbers, strings by code
    # point); arrays and objects are not sorted on here, so they only need a stable rank.
    comparable = value if kind in ("string", "number", "boolean") else 0
    return (_JSONB_RANK[kind], comparable)


def _compare(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def order(items: Iterable[RefItem], sortby: str | Sequence[dict[str, str]] | None) -> list[RefItem]:
    """Items in search order: the sort keys, then collection and id as the last key goes."""
    keys = parse_sortby(sortby)
    direction = keys[-1][1]
    keys = [*keys, ("collection", direction), ("id", direction)]

    def compare(x: RefItem, y: RefItem) -> int:
        for name, way in keys:
            outcome = _compare(_sort_value(x, name), _sort_value(y, name))
            if outcome:
                return outcome if way == "asc" else -outcome
        return 0

    return sorted(items, key=functools.cmp_to_key(compare))


# --- Search


@dataclass(frozen=True)
class Reference:
    """The reference catalog: a fixed list of items and the search over them."""

    items: tuple[RefItem, ...]

    def search(
        self,
        *,
        ids: str | Sequence[str] | None = None,
        collections: str | Sequence[str] | None = None,
        bbox: str | Sequence[float] | None = None,
        intersects: dict[str, Any] | None = None,
        datetime: str | None = None,
        filter: dict[str, Any] | None = None,
        sortby: str | Sequence[dict[str, str]] | None = None,
    ) -> list[Key]:
        """The keys of the matching items, in search order (query-string forms allowed)."""
        ids = ids.split(",") if isinstance(ids, str) else ids
        collections = collections.split(",") if isinstance(collections, str) else collections
        bbox = [float(v) for v in bbox.split(",")] if isinstance(bbox, str) else bbox
        area = bbox_area(bbox) if bbox is not None else None
        shape = shapely.geometry.shape(intersects) if intersects is not None else None
        window = time_window(datetime) if datetime is not None else None
        matched = [
            item for item in self.items
            if (ids is None or item.id in ids)
            and (collections is None or item.collection in collections)
            and (area is None or (item.geometry is not None and item.geometry.intersects(area)))
            and (shape is None or (item.geometry is not None and item.geometry.intersects(shape)))
            and (window is None or overlaps(item, *window))
            and (filter is None or Evaluation(item).truth(filter) is True)
        ]
        return [item.key for item in order(matched, sortby)]
