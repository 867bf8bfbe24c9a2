"""sortby: parsing, validation against the known fields, and SQL ordering."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement

from catalog.errors import InvalidSortBy
from catalog.search.fields import CORE_FIELDS, canonical_name, property_value, resolve_field

Direction = Literal["asc", "desc"]


@dataclass(frozen=True)
class SortField:
    """One sort key: a field name and its direction."""

    field: str
    direction: Direction = "asc"


DEFAULT_SORT: tuple[SortField, ...] = (SortField("datetime", "desc"),)
MAX_SORT_FIELDS = 8
"""Sort keys a request may give; each one widens every keyset comparison of paging."""
_SORTABLE_CORE = ("id", "collection", "datetime", "start_datetime", "end_datetime")


def parse_sortby(value: str | Sequence[Any] | None) -> tuple[SortField, ...]:
    """Parse ``"-datetime,+id"`` or ``[{"field": ..., "direction": ...}]`` into sort keys."""
    if value is None or value == "" or value == []:
        return ()
    if not isinstance(value, str | list | tuple):
        raise InvalidSortBy("sortby is a string or a list of {field, direction} entries")
    count = value.count(",") + 1 if isinstance(value, str) else len(value)
    if count > MAX_SORT_FIELDS:
        raise InvalidSortBy(f"sortby: {count} fields; at most {MAX_SORT_FIELDS}")
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if any(not p for p in parts):
            raise InvalidSortBy(f"sortby {value!r} has an empty field")
        return tuple(
            SortField(p[1:], "desc") if p[0] == "-" else SortField(p.lstrip("+ "), "asc")
            for p in parts
        )
    fields = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
            raise InvalidSortBy("each sortby entry needs a 'field' string")
        direction = str(entry.get("direction", "asc")).lower()
        if direction not in ("asc", "desc"):
            raise InvalidSortBy(f"sortby direction {entry.get('direction')!r} is not asc/desc")
        fields.append(SortField(entry["field"], direction))  # type: ignore[arg-type]
    return tuple(fields)


def sort_fields(fields: Sequence[SortField]) -> tuple[SortField, ...]:
    """Typed sort keys checked as ``parse_sortby`` checks parsed ones (at most
    ``MAX_SORT_FIELDS``)."""
    if len(fields) > MAX_SORT_FIELDS:
        raise InvalidSortBy(f"sortby: {len(fields)} fields; at most {MAX_SORT_FIELDS}")
    return tuple(fields)


def check_sort_fields(sort: Iterable[SortField], known_properties: set[str]) -> None:
    """Refuse sort fields that are neither core fields nor properties seen in the data."""
    for key in sort:
        name = canonical_name(key.field)
        if name == "geometry" or (name not in CORE_FIELDS and name not in known_properties):
            raise InvalidSortBy(f"cannot sort by unknown field {key.field!r}")


def with_tie_break(sort: Sequence[SortField]) -> tuple[SortField, ...]:
    """The sort keys completed with (collection, id), so the order is total and stable.

    Both are needed: an id is unique only within its collection, so sorting by ``id``
    alone would leave items of two collections with the same id in no defined order,
    and a page boundary between them would skip one.
    """
    keys = list(sort) or list(DEFAULT_SORT)
    names = {canonical_name(k.field) for k in keys}
    direction = keys[-1].direction
    if "collection" not in names:
        keys.append(SortField("collection", direction))
    if "id" not in names:
        keys.append(SortField("id", direction))
    return tuple(SortField(canonical_name(k.field), k.direction) for k in keys)


def sort_expression(key: SortField) -> ColumnElement:
    """The SQL value ordered on; missing properties sort as JSON null, never SQL NULL."""
    field = resolve_field(key.field)
    if field.is_property:
        return property_value(field)
    return field.sql
