"""Paging tokens: what ``encode_cursor`` writes, ``decode_cursor`` reads back for the same
sort only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from catalog.errors import InvalidCursor
from catalog.search.cursor import Cursor, decode_cursor, encode_cursor
from catalog.search.sort import SortField

DEFAULT = (SortField("datetime", "desc"), SortField("collection", "desc"), SortField("id", "desc"))
BY_GSD = (SortField("gsd", "asc"), SortField("collection", "asc"), SortField("id", "asc"))
MOMENT = datetime(2021, 11, 13, 16, 0, 0, 123456, tzinfo=UTC)


def test_default_sort_cursor_round_trips() -> None:
    cursor = Cursor("next", (MOMENT, "naip", "al_m_3008506_nw_16_060_20231002"))
    assert decode_cursor(encode_cursor(cursor, DEFAULT), DEFAULT) == cursor


def test_prev_direction_round_trips() -> None:
    cursor = Cursor("prev", (MOMENT, "joplin", "a"))
    assert decode_cursor(encode_cursor(cursor, DEFAULT), DEFAULT).direction == "prev"


@pytest.mark.parametrize("value", [0.5971642834779395, 1, "2011", None, True], ids=repr)
def test_json_property_value_round_trips_exactly(value: object) -> None:
    cursor = Cursor("next", (value, "naip", "x"))
    assert decode_cursor(encode_cursor(cursor, BY_GSD), BY_GSD).values[0] == value


def test_datetime_comes_back_aware_in_utc_to_the_microsecond() -> None:
    cursor = Cursor("next", (MOMENT, "naip", "x"))
    value = decode_cursor(encode_cursor(cursor, DEFAULT), DEFAULT).values[0]
    assert (value, value.utcoffset()) == (MOMENT, MOMENT.utcoffset())


def test_token_is_url_safe_without_padding() -> None:
    token = encode_cursor(Cursor("next", (MOMENT, "naip", "id with spaces/and?query")), DEFAULT)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)


def test_token_of_another_sort_is_refused() -> None:
    token = encode_cursor(Cursor("next", (0.6, "naip", "x")), BY_GSD)
    with pytest.raises(InvalidCursor, match="another sort"):
        decode_cursor(token, DEFAULT)


def test_token_of_the_same_fields_in_another_direction_is_refused() -> None:
    descending = tuple(SortField(k.field, "desc") for k in BY_GSD)
    token = encode_cursor(Cursor("next", (0.6, "naip", "x")), BY_GSD)
    with pytest.raises(InvalidCursor):
        decode_cursor(token, descending)


@pytest.mark.parametrize("token", ["", "%%%", "bm90IGpzb24", "ünï"], ids=repr)
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(token, DEFAULT)
