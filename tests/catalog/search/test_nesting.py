"""Filter nesting is measured without recursion, and bounds what the parsers recurse on."""

from __future__ import annotations

import contextlib
from typing import Any

import cql2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.errors import InvalidFilter
from catalog.search.nesting import MAX_NESTING, check_filter_nesting, json_nesting, text_nesting

json_values = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=2), inner, max_size=3)),
    max_leaves=30,
)


def _reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_json_nesting_is_the_depth_of_objects_and_arrays(value: Any) -> None:
    assert json_nesting(value) == _reference_depth(value)


@pytest.mark.parametrize("depth", [0, 1, 7, 64])
def test_parentheses_count_one_level_each(depth: int) -> None:
    assert text_nesting("(" * depth + "gsd = 1" + ")" * depth) == depth


def test_brackets_inside_quoted_strings_do_not_count() -> None:
    assert text_nesting("title = '((((NOT NOT' AND \"we(ird\" = 1") == 0


@pytest.mark.parametrize("text", [
    "NOT " * (MAX_NESTING + 1) + "gsd = 1",
    "(" * (MAX_NESTING + 1) + "gsd = 1" + ")" * (MAX_NESTING + 1),
    "gsd = " + "-" * (MAX_NESTING + 1) + "1",
])
def test_text_past_the_limit_is_refused_before_parsing(text: str) -> None:
    with pytest.raises(InvalidFilter, match="nested"):
        check_filter_nesting(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["(", ")", "NOT ", "-", "[", "]", "gsd", " = ", "1", ",", "'('"]),
    st.integers(1, 2_000),
), max_size=12))
def test_text_within_the_limit_never_crashes_the_parser(runs: list[tuple[str, int]]) -> None:
    # Runs of up to 2,000 tokens: past the stack of the parser (a crash of the test
    # process) unless the nesting check refuses them first.
    text = "".join(token * count for token, count in runs)
    try:
        check_filter_nesting(text)
    except InvalidFilter:
        return
    with contextlib.suppress(cql2.ParseError, cql2.ValidationError, ValueError):
        cql2.parse_text(text)


@pytest.mark.parametrize("text", [
    "(" * 25,
    "(" * 20 + "gsd = 1 AND" + ")" * 20,
    "(" * 13 + "gsd = 1" + ")" * 13,
])
def test_deep_parentheses_in_text_are_refused_before_the_parser_backtracks(text: str) -> None:
    with pytest.raises(InvalidFilter, match="parentheses"):
        check_filter_nesting(text)


def test_twelve_parentheses_still_parse() -> None:
    text = "(" * 12 + "gsd = 1" + ")" * 12
    check_filter_nesting(text)
    assert cql2.parse_text(text).to_json() == {"op": "=", "args": [{"property": "gsd"}, 1]}
