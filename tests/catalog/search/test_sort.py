"""sortby parsing, the (collection, id) tie break, and the check of sortable fields."""

from __future__ import annotations

import pytest

from catalog.errors import InvalidSortBy
from catalog.search.sort import SortField, check_sort_fields, parse_sortby, with_tie_break


def test_query_string_form_is_parsed_with_signs() -> None:
    assert parse_sortby("-datetime,+id,gsd") == (
        SortField("datetime", "desc"), SortField("id", "asc"), SortField("gsd", "asc")
    )


def test_json_form_is_parsed_case_insensitively() -> None:
    entries = [{"field": "properties.gsd", "direction": "DESC"}, {"field": "id"}]
    assert parse_sortby(entries) == (SortField("properties.gsd", "desc"), SortField("id", "asc"))


@pytest.mark.parametrize("value", [None, "", []], ids=repr)
def test_nothing_means_no_sort_keys(value: object) -> None:
    assert parse_sortby(value) == ()


@pytest.mark.parametrize(
    "value",
    ["datetime,,id", ",", [{"field": "id", "direction": "up"}], [{"direction": "asc"}], ["id"]],
    ids=["empty-field", "only-comma", "bad-direction", "no-field", "bare-string-entry"],
)
def test_malformed_sortby_is_refused(value: object) -> None:
    with pytest.raises(InvalidSortBy):
        parse_sortby(value)


def test_default_order_is_newest_first_with_descending_tie_break() -> None:
    assert with_tie_break(()) == (
        SortField("datetime", "desc"), SortField("collection", "desc"), SortField("id", "desc")
    )


def test_tie_break_follows_the_last_key_direction() -> None:
    sort = (SortField("datetime", "desc"), SortField("gsd", "asc"))
    assert with_tie_break(sort)[-2:] == (SortField("collection", "asc"), SortField("id", "asc"))


def test_sort_by_id_still_breaks_ties_by_collection() -> None:
    # An id is unique only within its collection.
    assert with_tie_break((SortField("id", "desc"),)) == (
        SortField("id", "desc"), SortField("collection", "desc")
    )


def test_sort_by_collection_is_completed_by_id() -> None:
    assert with_tie_break((SortField("collection", "asc"),)) == (
        SortField("collection", "asc"), SortField("id", "asc")
    )


def test_tie_break_uses_canonical_field_names() -> None:
    assert with_tie_break((SortField("properties.gsd", "asc"),))[0] == SortField("gsd", "asc")


@pytest.mark.parametrize("name", ["id", "collection", "datetime", "end_datetime", "gsd",
                                  "properties.gsd"])
def test_core_fields_and_known_properties_are_sortable(name: str) -> None:
    check_sort_fields([SortField(name)], {"gsd"})


@pytest.mark.parametrize("name", ["geometry", "cloud", "properties.geometry"])
def test_unknown_fields_and_geometry_are_not_sortable(name: str) -> None:
    with pytest.raises(InvalidSortBy):
        check_sort_fields([SortField(name)], {"gsd"})
