"""Property-based fuzzing (hypothesis) of the parsers hostile input reaches first: the
datetime parser, the GeoJSON validators and the CQL2 parser + compiler.

Each may refuse input only with its typed error (an ``InvalidInput`` subclass); anything
else escaping is a bug that would become a 500. What it accepts must be consistent with
an independent reading: the standard library's ``datetime.fromisoformat`` for times,
shapely's own validity for geometries, and PostgreSQL itself for compiled filters.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, true
from sqlalchemy.dialects import postgresql

from catalog.errors import InvalidInput
from catalog.geometry import parse_geometries, parse_search_area
from catalog.search.cql2 import (
    _kept_plan,
    compile_filter,
    filter_plan,
    filter_template,
    parse_filter,
)
from catalog.search.fields import items
from catalog.temporal import parse_interval, parse_rfc3339

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# ---- datetimes -------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9998, 12, 30),
    timezones=st.just(UTC),
)


def _iso(moment: datetime) -> str:
    """Seconds precision, 4-digit year, no zone (strftime does not pad years below 1000)."""
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


@FUZZ
@given(st.text(max_size=60))
def test_any_text_is_a_datetime_or_a_typed_error(value: str) -> None:
    try:
        parsed = parse_rfc3339(value)
    except InvalidInput:
        return
    assert parsed.tzinfo is not None


@FUZZ
@given(instants, st.sampled_from(["Z", "+00:00", "+05:30", "-11:00"]))
def test_formatted_instants_round_trip(moment: datetime, zone: str) -> None:
    text = _iso(moment) + zone
    expected = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parse_rfc3339(text) == expected


@FUZZ
@given(instants, st.integers(min_value=0, max_value=10_000))
def test_intervals_are_ordered(start: datetime, days: int) -> None:
    end = start + timedelta(days=days)
    if end.year > 9999:
        return
    interval = parse_interval(f"{_iso(start)}Z/{_iso(end)}Z")
    assert interval.start <= interval.end
    try:
        parse_interval(f"{_iso(end)}Z/{_iso(start)}Z")
    except InvalidInput:
        assert days > 0


@FUZZ
@given(st.text(max_size=40), st.text(max_size=40))
def test_any_interval_text_parses_or_is_refused(left: str, right: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_interval(f"{left}/{right}")


# ---- GeoJSON ---------------------------------------------------------------------------

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10**6, max_value=10**6),
)
positions = st.lists(numbers, min_size=0, max_size=4)
rings = st.lists(positions, min_size=0, max_size=8)
geojson = st.fixed_dictionaries({
    "type": st.sampled_from(["Point", "LineString", "Polygon", "MultiPoint", "MultiPolygon",
                             "GeometryCollection", "Feature", "Nonsense"]),
    "coordinates": st.one_of(positions, rings, st.lists(rings, max_size=3),
                             st.lists(st.lists(rings, max_size=2), max_size=2), st.none(),
                             st.text(max_size=5)),
})
lonlat = st.tuples(st.floats(-180, 180), st.floats(-90, 90))


@FUZZ
@given(geojson)
def test_random_geojson_is_a_valid_geometry_or_a_typed_error(value: dict[str, Any]) -> None:
    try:
        (geometry,) = parse_geometries([value], ["fuzz"])
    except InvalidInput:
        return
    assert geometry.is_valid
    assert shapely.get_srid(geometry) in (0, 4326)


@FUZZ
@given(geojson)
def test_random_search_areas_are_usable_or_refused(value: dict[str, Any]) -> None:
    try:
        area = parse_search_area(value)
    except InvalidInput:
        return
    assert area.is_valid


@FUZZ
@given(st.lists(lonlat, min_size=3, max_size=8))
def test_polygons_are_accepted_exactly_when_shapely_finds_them_valid(
    points: list[tuple[float, float]],
) -> None:
    ring = [list(p) for p in points] + [list(points[0])]
    value = {"type": "Polygon", "coordinates": [ring]}
    reference = shapely.Polygon(ring)
    try:
        parse_geometries([value], ["fuzz"])
    except InvalidInput:
        assert not reference.is_valid
        return
    assert reference.is_valid


# ---- CQL2 ------------------------------------------------------------------------------

names = st.one_of(
    st.sampled_from(["id", "collection", "datetime", "eo:cloud_cover", "gsd", "geometry"]),
    st.text(max_size=20),
)
literals = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=15),
                     st.booleans(), st.none())
operands = st.one_of(literals, st.builds(lambda n: {"property": n}, names))
comparison = st.builds(
    lambda op, a, b: {"op": op, "args": [a, b]},
    st.sampled_from(["=", "<>", "<", "<=", ">", ">=", "like", "in", "between", "isNull",
                     "s_intersects", "t_before", "a_contains", "casei", "drop"]),
    operands, st.one_of(operands, st.lists(literals, max_size=3)),
)
expressions = st.recursive(
    comparison,
    lambda inner: st.builds(
        lambda op, args: {"op": op, "args": args},
        st.sampled_from(["and", "or", "not"]), st.lists(inner, min_size=0, max_size=3),
    ),
    max_leaves=8,
)


@FUZZ
@given(expressions)
def test_cql2_json_compiles_or_is_refused(expression: dict[str, Any]) -> None:
    try:
        clause = compile_filter(parse_filter(expression, "cql2-json"))
    except InvalidInput:
        return
    select(items.c.id).where(true(), clause).compile(dialect=postgresql.asyncpg.dialect())


@FUZZ
@given(st.text(max_size=80))
def test_cql2_text_parses_or_is_refused(text: str) -> None:
    try:
        clause = compile_filter(parse_filter(text, "cql2-text"))
    except InvalidInput:
        return
    select(items.c.id).where(true(), clause).compile(dialect=postgresql.asyncpg.dialect())


def _relabelled(node: Any, draw: Any) -> Any:
    """``node`` with each literal argument replaced by a new one of its kind (numbers by
    numbers, text by text); ".." and what is not a literal stay."""
    if isinstance(node, list):
        return [_relabelled(item, draw) for item in node]
    if isinstance(node, dict):
        if isinstance(node.get("args"), list):
            return {**node, "args": _relabelled(node["args"], draw)}
        return node
    if isinstance(node, bool) or node is None or node == "..":
        return node
    if isinstance(node, int | float):
        return draw(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
    return draw(st.text(max_size=15).filter(lambda t: t != ".."))


def _written(clause: Any, values: dict[str, Any] | None = None) -> str:
    statement = select(items.c.id).where(clause)
    if values is not None:
        statement = statement.params(values)
    return str(statement.compile(
        dialect=postgresql.asyncpg.dialect(), compile_kwargs={"literal_binds": True}))


def _kept_sql(expression: dict[str, Any]) -> str | type[Exception]:
    """The filter's SQL as kept page statements use it (its template's plan, its
    placeholders filled with the filter's values), or the type of its refusal."""
    try:
        template = filter_template(expression)
        plan = filter_plan(template)
        return _written(plan.expression, plan.values(template.literals))
    except InvalidInput as exc:
        return type(exc)


def _own_sql(expression: dict[str, Any]) -> str | type[Exception]:
    """The filter's SQL compiled for it alone, its values bound, or its refusal."""
    try:
        return _written(compile_filter(expression))
    except InvalidInput as exc:
        return type(exc)


@FUZZ
@given(expressions, st.data())
def test_filters_of_one_template_compile_as_if_each_were_alone(
    expression: dict[str, Any], data: st.DataObject
) -> None:
    """A plan kept from one filter serves another of its template with that filter's own
    values: its expression, filled in, is the other's SQL compiled for it alone."""
    other = _relabelled(expression, data.draw)
    try:
        if filter_template(other).key != filter_template(expression).key:
            return  # a number drawn as a bool-like or a text as "..": not one template
    except InvalidInput:
        return
    _kept_sql(expression)  # keeps the template's plan, made from this filter's literals
    through_kept = _kept_sql(other)
    _kept_plan.cache_clear()  # nothing kept: the other filter's own plan
    assert through_kept == _own_sql(other)
