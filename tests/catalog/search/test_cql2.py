"""CQL2 parsing and compilation: refusals with ``InvalidFilter``, and SQL that binds
every user value as a parameter."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql

from catalog.errors import InvalidFilter, InvalidGeometry
from catalog.search.cql2 import compile_filter, parse_filter

DROP_ITEMS = "x'); DROP TABLE items; --"


def _sql(filter_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    compiled = compile_filter(filter_json).compile(dialect=postgresql.dialect())
    return str(compiled), compiled.params


def prop(name: str) -> dict[str, str]:
    return {"property": name}


def op(name: str, *args: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args)}


def test_text_is_parsed_into_cql2_json() -> None:
    assert parse_filter("gsd > 1") == op(">", prop("gsd"), 1.0)


def test_json_text_is_parsed_with_its_language() -> None:
    assert parse_filter('{"op": "=", "args": [{"property": "id"}, "a"]}', "cql2-json") == op(
        "=", prop("id"), "a"
    )


def test_syntax_error_names_the_language_and_position() -> None:
    with pytest.raises(InvalidFilter, match=r"cql2-text.*1:"):
        parse_filter("gsd >> 1")


def test_json_text_without_a_language_is_read_as_json() -> None:
    assert parse_filter(' {"op": "=", "args": [{"property": "id"}, "a"]}') == op(
        "=", prop("id"), "a"
    )


def test_an_object_is_json_whatever_language_is_named() -> None:
    assert parse_filter(op("=", prop("id"), "a"), "cql2-text") == op("=", prop("id"), "a")


def test_json_text_named_cql2_text_is_read_as_json() -> None:
    """rustac's command line sends ``--filter '{...}'`` with ``filter-lang: cql2-text``."""
    text = '{"op": "=", "args": [{"property": "id"}, "a"]}'
    assert parse_filter(text, "cql2-text") == op("=", prop("id"), "a")


@pytest.mark.parametrize("logical", ["and", "or"])
def test_one_argument_and_or_stands_for_its_argument(logical: str) -> None:
    inner = op("<", prop("gsd"), 1)
    assert _sql(op(logical, inner)) == _sql(inner)


def test_unknown_language_is_refused() -> None:
    with pytest.raises(InvalidFilter, match="filter-lang"):
        parse_filter("gsd > 1", "sql")


def _nested_not(depth: int) -> Any:
    node: Any = True
    for _ in range(depth):
        node = op("not", node)
    return node


UNCOMPILABLE = {
    "not-a-predicate": "gsd",
    "unknown-operator": op("t_whatever", prop("datetime"), {"timestamp": "2020-01-01T00:00:00Z"}),
    "not-with-two-arguments": op("not", True, False),
    "comparison-with-three-arguments": op("=", prop("gsd"), 1, 2),
    "and-without-arguments": op("and"),
    "or-without-arguments": op("or"),
    "in-with-empty-list": op("in", prop("gsd"), []),
    "in-with-mixed-types": op("in", prop("gsd"), [1, "a"]),
    "between-with-two-arguments": op("between", prop("gsd"), 1),
    "between-with-text-bounds": op("between", prop("gsd"), "a", "b"),
    "like-with-number-pattern": op("like", prop("platform"), 5),
    "spatial-on-a-number": op("s_intersects", prop("geometry"), 5),
    "array-against-a-scalar": op("a_contains", prop("instruments"), "oli"),
    "is-null-of-a-literal": op("isNull", 5),
    "text-id-against-number": op("=", prop("id"), 5),
    "compare-geometries": op("=", prop("geometry"), {"type": "Point", "coordinates": [0, 0]}),
    "interval-with-one-bound": op("t_intersects", prop("datetime"), {"interval": [".."]}),
    "accenti": op("=", {"op": "accenti", "args": [prop("platform")]}, "x"),
    "nested-too-deep": _nested_not(70),
}


@pytest.mark.parametrize("filter_json", UNCOMPILABLE.values(), ids=UNCOMPILABLE.keys())
def test_uncompilable_filter_raises_invalid_filter(filter_json: Any) -> None:
    with pytest.raises(InvalidFilter):
        compile_filter(filter_json)


def test_unclosed_geometry_literal_raises_invalid_geometry() -> None:
    unclosed = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1]]]}
    with pytest.raises(InvalidGeometry):
        compile_filter(op("s_intersects", prop("geometry"), unclosed))


def test_text_literal_is_a_bound_parameter() -> None:
    sql, params = _sql(op("=", prop("id"), DROP_ITEMS))
    assert DROP_ITEMS not in sql
    assert DROP_ITEMS in params.values()


def test_property_name_is_a_bound_parameter() -> None:
    sql, params = _sql(op("<", prop(DROP_ITEMS), 5))
    assert DROP_ITEMS not in sql
    assert DROP_ITEMS in params.values()


def test_equality_on_a_property_uses_jsonb_containment() -> None:
    # Containment (@>) can use the GIN index on properties.
    sql, _ = _sql(op("=", prop("naip:state"), "al"))
    assert "@>" in sql


def test_equality_under_not_is_a_typed_comparison() -> None:
    # Containment is false, not unknown, when the property is missing; NOT would then
    # select every item without the property, unlike the equivalent <>.
    sql, _ = _sql(op("not", op("=", prop("proj:epsg"), 26916)))
    assert "@>" not in sql


def test_float_literal_is_bound_as_its_decimal_value() -> None:
    _, params = _sql(op("<=", prop("gsd"), 0.6))
    assert Decimal("0.6") in params.values()


def test_float_choices_of_in_are_bound_as_decimal_values() -> None:
    _, params = _sql(op("in", prop("gsd"), [0.3, 0.6]))
    assert {Decimal("0.3"), Decimal("0.6")} <= set(params.values())
