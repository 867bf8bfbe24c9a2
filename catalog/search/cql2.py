"""CQL2 (text and JSON) compiled to parameterized SQLAlchemy expressions.

Filters are parsed and checked by the ``cql2`` library, then walked here as CQL2-JSON.
Every literal and every property name becomes a bound parameter; nothing a user writes is
spliced into SQL.

A filter is compiled in two halves, as a search's other conditions are
(:mod:`catalog.search.where`): its template (the tree with each literal replaced by its
kind, :func:`filter_template`) fixes the SQL, and is compiled once into a
:class:`FilterPlan`; each request only reads its own literals into the plan's parameters.
``cloud_cover <= 12.5`` and ``cloud_cover <= 40`` share one statement.

Supported: comparisons, and/or/not, like, in, between, isNull, casei, the spatial s_*
and temporal t_* operators, and the array a_* operators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import cql2
import orjson
import shapely
from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    DateTime,
    Numeric,
    Text,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from catalog.db.models import UNINDEXED_PROPERTIES, indexed_properties
from catalog.errors import InvalidFilter, InvalidInput
from catalog.geometry import bbox_polygon, parse_bbox, parse_search_area
from catalog.search.fields import Field, items, property_value, resolve_field
from catalog.stac.common import dumps
from catalog.temporal import parse_rfc3339

NEG_INFINITY: ColumnElement = literal_column("'-infinity'::timestamptz")
POS_INFINITY: ColumnElement = literal_column("'infinity'::timestamptz")
MAX_DEPTH = 64


def parse_filter(value: str | dict[str, Any], lang: str | None = None) -> dict[str, Any]:
    """Parse a CQL2 filter (text, JSON text or a JSON object) into CQL2-JSON.

    An object, or text starting with ``{``, is CQL2-JSON whatever ``lang`` says (CQL2
    text cannot start so; rustac's command line sends JSON text as ``cql2-text``); other
    text is CQL2 text unless ``lang`` is ``cql2-json``. Raises ``InvalidFilter`` with the
    parser's explanation for anything malformed.
    """
    lang = (lang or _language_of(value)).lower()
    if lang not in ("cql2-json", "cql2-text"):
        raise InvalidFilter(f"unknown filter-lang {lang!r}; use cql2-text or cql2-json")
    try:
        if lang == "cql2-json" or _language_of(value) == "cql2-json":
            text = value if isinstance(value, str) else dumps(value)
            return cql2.parse_json(text).to_json()
        if isinstance(value, str):
            return cql2.parse_text(value).to_json()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        raise InvalidFilter(f"invalid {lang} filter: {exc}") from exc
    raise InvalidFilter(f"a filter must be CQL2 text or a CQL2-JSON object, not {value!r}")


def _language_of(value: str | dict[str, Any]) -> str:
    """The language a filter given without ``filter-lang`` is written in: an object, or
    text that starts like one, is CQL2-JSON; other text is CQL2 text."""
    if isinstance(value, str) and not value.lstrip().startswith("{"):
        return "cql2-text"
    return "cql2-json"


TIME = DateTime(timezone=True)
Bind = Callable[[str, TypeEngine[Any]], BindParameter[Any]]
"""Makes the parameter of a name and type (a placeholder, or one holding its value)."""


@dataclass(frozen=True)
class Lit:
    """A literal's place in a filter template: its index among the request's literals and
    its kind. ``raw`` is the value it stood for, kept for error messages only: a plan
    compiled from one request serves others."""

    index: int
    kind: str  # number | text | timestamp | bbox | geometry | bound
    raw: Any = dataclass_field(compare=False, repr=False)


@dataclass(frozen=True, eq=False)
class FilterTemplate:
    """A filter with its literals taken out: ``tree`` holds a :class:`Lit` where each
    was, ``key`` is the tree's text (equal keys compile to the same SQL), ``literals``
    the request's values, by index. Hashed and compared by key."""

    key: bytes
    tree: Any
    literals: tuple[Any, ...]

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FilterTemplate) and self.key == other.key


def filter_template(filter_json: Any) -> FilterTemplate:
    """The template of a CQL2-JSON filter (see :class:`FilterTemplate`)."""
    literals: list[Any] = []
    tree = _template_of(filter_json, literals)
    key = orjson.dumps(tree, default=_lit_tag, option=orjson.OPT_PASSTHROUGH_DATACLASS)
    return FilterTemplate(key, tree, tuple(literals))


def _lit_tag(value: Any) -> str:
    if isinstance(value, Lit):
        # No literal string of the template reads so: every string in a literal's place
        # is taken out but "..", and a NUL cannot reach here from a property name.
        return f"\x00{value.kind}"
    raise TypeError(f"{type(value).__name__} is not JSON")


LITERAL_KINDS = frozenset({"number", "text", "timestamp", "bbox", "geometry"})
"""Kinds of node a template takes out as a :class:`Lit`; every other kind is structure,
kept in the template and read by :meth:`Compiler.operand` or :meth:`Compiler.compile`."""

_DICT_KINDS = (
    ("op", "call"), ("property", "property"), ("timestamp", "timestamp"),
    ("date", "timestamp"), ("interval", "interval"), ("bbox", "bbox"), ("type", "geometry"),
)


def node_kind(node: Any) -> str:
    """What a CQL2-JSON node is: one of :data:`LITERAL_KINDS`, or ``bool``, ``null``,
    ``open`` (the ".." of an open interval end), ``list``, ``call`` (an operator and its
    arguments), ``property``, ``interval`` or ``other``.

    The template walk and the compiler both dispatch on it, so what one keeps as
    structure the other reads as such."""
    if isinstance(node, bool):
        return "bool"
    if node is None:
        return "null"
    if isinstance(node, int | float):
        return "number"
    if isinstance(node, str):
        return "open" if node == ".." else "text"
    if isinstance(node, list):
        return "list"
    if isinstance(node, dict):
        for key, kind in _DICT_KINDS:
            if key in node:
                return kind
    return "other"


def _template_of(node: Any, literals: list[Any]) -> Any:
    """``node`` with its literals replaced by :class:`Lit` (appended to ``literals``).

    What decides the SQL stays: operators, property names, booleans, nulls, the open
    ends of intervals and the length of lists."""
    kind = node_kind(node)
    if kind in LITERAL_KINDS:
        return _lit(node, kind, literals)
    if kind == "list":
        return [_template_of(item, literals) for item in node]
    if kind == "call" and isinstance(node.get("args"), list):
        return {**node, "args": [_template_of(a, literals) for a in node["args"]]}
    if kind == "interval" and isinstance(node["interval"], list):
        return {**node, "interval": [
            b if node_kind(b) in ("open", "null") else _lit(b, "bound", literals)
            for b in node["interval"]
        ]}
    return node


def _lit(value: Any, kind: str, literals: list[Any]) -> Lit:
    literals.append(value)
    return Lit(len(literals) - 1, kind, value)


def _value_of(source: Any, literals: Sequence[Any]) -> Any:
    """``source`` (part of a template) with the request's literals put back."""
    return _filled(source, lambda lit: literals[lit.index])


def _shown(node: Any) -> str:
    """A template node as the user wrote it, for messages."""
    return dumps(_filled(node, lambda lit: lit.raw))


def _filled(source: Any, value: Callable[[Lit], Any]) -> Any:
    if isinstance(source, Lit):
        return value(source)
    if isinstance(source, list):
        return [_filled(item, value) for item in source]
    if isinstance(source, dict):
        return {k: _filled(v, value) for k, v in source.items()}
    return source


class Operand:
    """A compiled argument: its SQL value (made on first use, so a literal the compiler
    ends up not using takes no parameter) and what it holds."""

    __slots__ = ("_make", "_sql", "field", "kind", "value")

    def __init__(
        self,
        kind: str,  # text | numeric | bool | timestamp | geometry | json | list | interval
        sql: Any = None,
        field: Field | None = None,
        value: Any = None,
        make: Callable[[], Any] | None = None,
    ) -> None:
        self.kind, self.field, self.value = kind, field, value
        self._sql, self._make = sql, make

    @property
    def sql(self) -> Any:
        """The operand's SQL expression."""
        if self._sql is None and self._make is not None:
            self._sql = self._make()
        return self._sql


def _number(value: int | float) -> int | Decimal:
    """A JSON number as an exact SQL numeric.

    A float goes by its shortest decimal form: bound as a float, 0.6 would reach
    PostgreSQL as 0.59999999999999997779..., and ``gsd <= 0.6`` would miss gsd = 0.6.
    """
    return Decimal(repr(value)) if isinstance(value, float) else value


def _as_is(value: Any) -> Any:
    return value


def _geometry_wkb(value: Any) -> str:
    """WKB (hex) of a literal geometry or bbox."""
    if isinstance(value, dict) and "bbox" in value:
        geometry = bbox_polygon(parse_bbox(value["bbox"]))
    else:
        geometry = parse_search_area(value, label="filter")
    return shapely.to_wkb(geometry, hex=True)


def _timestamp_value(node: dict[str, Any]) -> tuple[datetime, datetime]:
    if "timestamp" in node:
        instant = parse_rfc3339(node["timestamp"], field="filter timestamp")
        return instant, instant
    day = date.fromisoformat(node["date"])
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(microseconds=1)


@dataclass(frozen=True)
class FilterPlan:
    """A template's SQL (its parameters as placeholders) and how each parameter's value
    is read from a request's literals."""

    expression: ColumnElement
    params: tuple[tuple[str, Any, Callable[[Any], Any]], ...]
    """(name, the part of the template it reads, what turns that part into the value)."""

    def values(self, literals: Sequence[Any]) -> dict[str, Any]:
        """The parameters' values for a request's literals. Raises ``InvalidFilter`` (or
        ``InvalidGeometry`` / ``InvalidDatetime``) for a literal it cannot take."""
        with _malformed():
            return {name: convert(_value_of(source, literals))
                    for name, source, convert in self.params}


class Compiler:
    """Walks one CQL2-JSON template; ``compile`` returns the SQL boolean expression and
    ``params`` lists the parameters it made."""

    def __init__(self, bind: Bind) -> None:
        self.bind = bind
        self.params: list[tuple[str, Any, Callable[[Any], Any]]] = []
        self.depth = 0
        # How many NOTs enclose the predicate being compiled; see ``_comparison``.
        self.negations = 0

    def param(
        self, source: Any, convert: Callable[[Any], Any], type_: TypeEngine[Any]
    ) -> BindParameter[Any]:
        """A parameter whose value is ``convert`` of ``source`` (a part of the template)
        as each request fills it in."""
        name = f"cql{len(self.params)}"
        self.params.append((name, source, convert))
        return self.bind(name, type_)

    def compile(self, node: Any) -> ColumnElement:
        """The boolean SQL expression for a CQL2-JSON predicate."""
        if isinstance(node, bool):
            return true() if node else false()
        if not isinstance(node, dict) or "op" not in node:
            raise InvalidFilter(f"expected a predicate, got {_shown(node)[:80]}")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidFilter("the filter is nested too deeply")
        try:
            op = str(node["op"]).lower()
            args = node.get("args") or []
            handler = _PREDICATES.get(op) or (_temporal if op.startswith("t_") else None)
            if handler is None:
                raise InvalidFilter(f"the operator {node['op']!r} is not supported")
            return handler(self, op, args)
        finally:
            self.depth -= 1

    def operand(self, node: Any) -> Operand:
        """Compile an argument (property, literal or function call)."""
        if isinstance(node, Lit):
            return self._literal(node)
        kind = node_kind(node)
        if kind == "bool":
            return Operand("bool", literal(node), value=node)
        if kind == "open":  # "..", an open interval end, which the template keeps
            return Operand("text", literal(node), value=node)
        if kind == "list":
            return Operand("list", value=node)
        if kind == "property":
            field = resolve_field(str(node["property"]))
            return Operand(field.kind, field.sql, field=field)
        if kind == "interval":
            return Operand("interval", value=node["interval"])
        if kind == "call" and str(node["op"]).lower() in ("casei", "accenti"):
            return self._case_insensitive(node)
        raise InvalidFilter(f"unsupported filter value {_shown(node)[:80]}")

    def _literal(self, lit: Lit) -> Operand:
        if lit.kind == "number":
            return Operand("numeric", value=lit,
                           make=lambda: self.param(lit, _number, Numeric()))
        if lit.kind == "text":
            return Operand("text", value=lit, make=lambda: self.param(lit, _as_is, Text()))
        if lit.kind == "timestamp":
            return Operand("timestamp", value=lit, make=lambda: self.param(
                lit, lambda v: _timestamp_value(v)[0], TIME))
        if lit.kind in ("bbox", "geometry"):
            return Operand("geometry", make=lambda: func.ST_GeomFromWKB(
                func.decode(self.param(lit, _geometry_wkb, Text()), "hex"), 4326))
        raise InvalidFilter(f"unsupported filter value {_shown(lit)[:80]}")

    def _case_insensitive(self, node: dict[str, Any]) -> Operand:
        if str(node["op"]).lower() == "accenti":
            raise InvalidFilter("accenti() is not supported")
        args = node.get("args") or []
        if len(args) != 1:
            raise InvalidFilter("casei() takes one argument")
        inner = as_text(self.operand(args[0]))
        return Operand("text", func.lower(inner))


def as_text(operand: Operand) -> ColumnElement:
    """The operand as SQL text (a property's JSON string value; NULL for other types)."""
    if operand.kind == "json":
        return _json_typed(operand, "string", Text)
    if operand.kind in ("text", "timestamp"):
        return operand.sql
    raise InvalidFilter("a text value is required here")


def _json_typed(operand: Operand, json_type: str, sql_type: Any) -> ColumnElement:
    value = operand.sql
    return case(
        (func.jsonb_typeof(value) == json_type, cast(value.astext, sql_type)),
        else_=None,
    )


def coerce(c: Compiler, operand: Operand, kind: str) -> ColumnElement:
    """The operand's SQL value as ``kind``; JSON properties yield NULL on a type mismatch."""
    if operand.kind == kind:
        return operand.sql
    if operand.kind == "json":
        if kind == "text":
            return _json_typed(operand, "string", Text)
        if kind == "numeric":
            return _json_typed(operand, "number", Numeric)
        if kind == "bool":
            return _json_typed(operand, "boolean", Boolean)
        if kind == "timestamp":
            return func.stacql_try_timestamptz(items.c.properties[operand.field.name].astext)  # type: ignore[union-attr]
    if kind == "timestamp" and operand.kind == "text":
        return c.param(operand.value, _filter_instant, TIME)
    raise InvalidFilter(f"cannot compare a {operand.kind} value with a {kind} value")


_COMPARATORS: dict[str, Callable[[Any, Any], ColumnElement]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_FLIPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _binary(args: list[Any], name: str) -> None:
    if len(args) != 2:
        raise InvalidFilter(f"{name} takes two arguments")


def _comparison(c: Compiler, op: str, args: list[Any]) -> ColumnElement:
    _binary(args, op)
    left, right = c.operand(args[0]), c.operand(args[1])
    if left.kind != "json" and right.kind == "json":
        left, right, op = right, left, _FLIPPED[op]
    if left.kind == "json" and right.kind == "json":
        return _COMPARATORS[op](left.sql, right.sql)
    if (
        left.kind == "json" and op == "=" and right.kind in ("text", "numeric", "bool")
        and c.negations == 0 and left.field.name not in UNINDEXED_PROPERTIES  # type: ignore[union-attr]
    ):
        # Containment keeps equality on the GIN index of properties. It is false, not
        # unknown, for a missing or differently typed property: the same outcome where no
        # NOT encloses it, but under a NOT the typed comparison below must decide.
        name = left.field.name  # type: ignore[union-attr]
        document = cast(c.param(right.value, lambda v: dumps({name: v}), Text()), JSONB)
        return indexed_properties().contains(document)
    kind = "text" if right.kind == "text" and left.kind != "timestamp" else right.kind
    if kind in ("geometry", "list", "interval"):
        raise InvalidFilter(f"{op} cannot compare {right.kind} values")
    if left.kind == "json" and kind == "numeric" and op in _JSON_RANGES and c.negations == 0:
        return and_(*_JSON_RANGES[op](property_value(left.field), _json_number(c, right.value)))  # type: ignore[arg-type]
    return _COMPARATORS[op](coerce(c, left, kind), coerce(c, right, kind))


def _filter_instant(value: str) -> datetime:
    return parse_rfc3339(value, field="filter")


def _json_number(c: Compiler, value: Any) -> ColumnElement:
    return cast(c.param(value, dumps, Text()), JSONB)


# In JSONB's order numbers sit above every string (and null) and below false, and
# compare as numbers: a property is a number above X exactly when its JSONB value is
# above X and below false. Where no NOT encloses it (see ``_comparison``: there a
# missing property must stay unknown, not false) that range replaces the typed
# comparison: it is an index range on a declared property index
# (catalog.search.property_indexes), and the planner estimates it from that index's
# statistics (the range added to the typed comparison, the two estimated as
# independent, made it expect five times too few matches over 100,000 items). Below X
# has no such range: no JSONB value lies between every string and every number.
_JSON_FALSE: ColumnElement[Any] = literal_column("'false'::jsonb")
_JSON_RANGES: dict[str, Callable[[ColumnElement, ColumnElement], list[ColumnElement]]] = {
    ">": lambda v, x: [v > x, v < _JSON_FALSE],
    ">=": lambda v, x: [v >= x, v < _JSON_FALSE],
}


def _logical(c: Compiler, op: str, args: list[Any]) -> ColumnElement:
    if op == "not":
        if len(args) != 1:
            raise InvalidFilter("not takes one argument")
        c.negations += 1
        try:
            return not_(c.compile(args[0]))
        finally:
            c.negations -= 1
    if not args:
        raise InvalidFilter(f"{op} takes at least one argument")
    # A one-argument and/or stands for its argument: some clients (STAC Browser) wrap
    # every filter in one, and CQL2 has no reason to refuse it.
    parts = [c.compile(a) for a in args]
    if len(parts) == 1:
        return parts[0]
    return and_(*parts) if op == "and" else or_(*parts)


def _like(c: Compiler, op: str, args: list[Any]) -> ColumnElement:
    _binary(args, "like")
    left, pattern = c.operand(args[0]), c.operand(args[1])
    if pattern.kind != "text":
        raise InvalidFilter("like needs a text pattern")
    return as_text(left).like(pattern.sql)


def _between(c: Compiler, op: str, args: list[Any]) -> ColumnElement:
    if len(args) == 2 and isinstance(args[1], list) and len(args[1]) == 2:
        args = [args[0], *args[1]]  # the draft form [value, [low, high]], still sent by clients
    if len(args) != 3:
        raise InvalidFilter("between takes a value and two bounds")
    value, low, high = (c.operand(a) for a in args)
    kind = low.kind
    if kind not in ("numeric", "timestamp") or high.kind != kind:
        raise InvalidFilter("between needs two numeric or two timestamp bounds")
    if value.kind == "json" and kind == "numeric" and c.negations == 0:
        # A number from low to high: a JSONB range, as for comparisons (_JSON_RANGES).
        json_value = property_value(value.field)  # type: ignore[arg-type]
        return and_(json_value >= _json_number(c, low.value),
                    json_value <= _json_number(c, high.value))
    return coerce(c, value, kind).between(low.sql, high.sql)


def _in(c: Compiler, op: str, args: list[Any]) -> ColumnElement:
    _binary(args, "in")
    value, choices = c.operand(args[0]), args[1]
    if not isinstance(choices, list) or not choices:
        raise InvalidFilter("in needs a non-empty list")
    operands = [c.operand(v) for v in choices]
    kinds = {o.kind for o in operands}
    if len(kinds) != 1 or kinds & {"list", "geometry", "interval"}:
        raise InvalidFilter("the values of in must be literals of one type")
    return coerce(c, value, kinds.pop()).in_([o.sql for o in operands])


def _is_null(c: Compiler, op: str, args: list[Any]) -> ColumnElement:
    if len(args) != 1:
        raise InvalidFilter("isNull takes one argument")
    value = c.operand(args[0])
    if value.kind == "json":
        return or_(value.sql.is_(None), func.jsonb_typeof(value.sql) == "null")
    if value.field is None:
        raise InvalidFilter("isNull applies to a property")
    return value.sql.is_(None)


_SPATIAL = {
    "s_intersects": func.ST_Intersects,
    "s_within": func.ST_Within,
    "s_contains": func.ST_Contains,
    "s_equals": func.ST_Equals,
    "s_touches": func.ST_Touches,
    "s_overlaps": func.ST_Overlaps,
    "s_crosses": func.ST_Crosses,
}


def _spatial(c: Compiler, op: str, args: list[Any]) -> ColumnElement:
    _binary(args, op)
    left, right = c.operand(args[0]), c.operand(args[1])
    if left.kind != "geometry" or right.kind != "geometry":
        raise InvalidFilter(f"{op} compares two geometries")
    if op == "s_disjoint":
        return not_(func.ST_Intersects(left.sql, right.sql))
    return _SPATIAL[op](left.sql, right.sql)


def _time_range(c: Compiler, node: Any) -> tuple[ColumnElement, ColumnElement]:
    """(start, end) SQL bounds of a temporal argument; open bounds are infinities."""
    operand = c.operand(node)
    if operand.kind == "interval":
        bounds = operand.value
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise InvalidFilter("an interval has a start and an end")
        start, end = bounds
        return (
            NEG_INFINITY if start in ("..", None)
            else c.param(start, lambda b: _interval_bound(b)[0], TIME),
            POS_INFINITY if end in ("..", None)
            else c.param(end, lambda b: _interval_bound(b)[1], TIME),
        )
    if operand.kind == "timestamp" and operand.field is None:
        return operand.sql, c.param(operand.value, lambda v: _timestamp_value(v)[1], TIME)
    if operand.field is not None and operand.field.name == "datetime":
        return items.c.start_datetime, items.c.end_datetime
    value = coerce(c, operand, "timestamp")
    return value, value


def _interval_bound(bound: Any) -> tuple[datetime, datetime]:
    if isinstance(bound, dict):
        return _timestamp_value(bound)
    if isinstance(bound, str):
        if len(bound) == 10:
            return _timestamp_value({"date": bound})
        instant = parse_rfc3339(bound, field="filter interval")
        return instant, instant
    raise InvalidFilter("an interval bound is a timestamp, a date or '..'")


_ALLEN: dict[str, Callable[..., ColumnElement]] = {
    "t_intersects": lambda s, e, a, b: and_(s <= b, e >= a),
    "t_disjoint": lambda s, e, a, b: not_(and_(s <= b, e >= a)),
    "t_before": lambda s, e, a, b: e < a,
    "t_after": lambda s, e, a, b: s > b,
    "t_meets": lambda s, e, a, b: e == a,
    "t_metby": lambda s, e, a, b: s == b,
    "t_overlaps": lambda s, e, a, b: and_(s < a, e > a, e < b),
    "t_overlappedby": lambda s, e, a, b: and_(s > a, s < b, e > b),
    "t_starts": lambda s, e, a, b: and_(s == a, e < b),
    "t_startedby": lambda s, e, a, b: and_(s == a, e > b),
    "t_during": lambda s, e, a, b: and_(s > a, e < b),
    "t_contains": lambda s, e, a, b: and_(s < a, e > b),
    "t_finishes": lambda s, e, a, b: and_(s > a, e == b),
    "t_finishedby": lambda s, e, a, b: and_(s < a, e == b),
    "t_equals": lambda s, e, a, b: and_(s == a, e == b),
}


def _temporal(c: Compiler, op: str, args: list[Any]) -> ColumnElement:
    _binary(args, op)
    relation = _ALLEN.get(op)
    if relation is None:
        raise InvalidFilter(f"the operator {op!r} is not supported")
    start, end = _time_range(c, args[0])
    other_start, other_end = _time_range(c, args[1])
    return relation(start, end, other_start, other_end)


def _array(c: Compiler, op: str, args: list[Any]) -> ColumnElement:
    _binary(args, op)
    left, right = c.operand(args[0]), args[1]
    if left.kind != "json" or not isinstance(right, list):
        raise InvalidFilter(f"{op} compares an array property with a list of values")
    values = cast(c.param(right, dumps, Text()), JSONB)
    if op == "a_equals":
        return left.sql == values
    if op == "a_contains":
        return left.sql.contains(values)
    if op == "a_containedby":
        return left.sql.contained_by(values)
    return or_(*(
        left.sql.contains(cast(c.param(v, lambda x: dumps([x]), Text()), JSONB)) for v in right
    ))


_PREDICATES: dict[str, Callable[[Compiler, str, list[Any]], ColumnElement]] = {
    **{op: _comparison for op in _COMPARATORS},
    "and": _logical,
    "or": _logical,
    "not": _logical,
    "like": _like,
    "between": _between,
    "in": _in,
    "isnull": _is_null,
    "s_disjoint": _spatial,
    **{op: _spatial for op in _SPATIAL},
    "a_equals": _array,
    "a_contains": _array,
    "a_containedby": _array,
    "a_overlaps": _array,
}


KEPT_FILTER_BYTES = 2048
"""Longest template (its key) whose plan, and page statements, are kept: 512 of them,
of 2,000 nodes each, would hold hundreds of MB of expression trees per process, and a
filter that long is rarely sent twice."""


def filter_plan(template: FilterTemplate) -> FilterPlan:
    """The template's plan, compiled once and kept unless the template is long. Raises
    ``InvalidFilter`` for a filter the catalog cannot evaluate, whatever its values."""
    if len(template.key) > KEPT_FILTER_BYTES:
        return _plan(template)
    return _kept_plan(template)


def _plan(template: FilterTemplate) -> FilterPlan:
    compiler = Compiler(_placeholder)
    with _malformed():
        expression = compiler.compile(template.tree)
    return FilterPlan(expression, tuple(compiler.params))


_kept_plan = lru_cache(maxsize=512)(_plan)


def _placeholder(name: str, type_: TypeEngine[Any]) -> BindParameter[Any]:
    return bindparam(name, type_=type_)


def compile_template(template: FilterTemplate, bind: Bind) -> ColumnElement:
    """The template's SQL, its parameters made by ``bind`` under the names its plan
    gives them."""
    with _malformed():
        return Compiler(bind).compile(template.tree)


def compile_filter(filter_json: dict[str, Any]) -> ColumnElement:
    """The SQL WHERE clause for a CQL2-JSON filter (see ``parse_filter``), its values
    bound.

    Raises ``InvalidFilter`` (or ``InvalidGeometry`` / ``InvalidDatetime`` for bad
    literals) for anything the catalog cannot evaluate.
    """
    template = filter_template(filter_json)
    values = filter_plan(template).values(template.literals)

    def bind(name: str, type_: TypeEngine[Any]) -> BindParameter[Any]:
        return bindparam(name, values[name], type_=type_, unique=True)

    return compile_template(template, bind)


@contextmanager
def _malformed() -> Iterator[None]:
    """Errors of a malformed tree (a wrong type where the walk expects another) as
    ``InvalidFilter``; our own refusals pass as they are."""
    try:
        yield
    except InvalidInput:
        raise
    except (TypeError, ValueError, KeyError, LookupError) as exc:
        raise InvalidFilter(f"the filter is malformed: {exc}") from exc
