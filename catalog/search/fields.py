"""Where each searchable field lives: a column of ``items`` or a key of ``properties``.

Property names are always bound as parameters, never spliced into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, func, literal_column

from catalog.db.models import Item

items = Item.__table__

Kind = Literal["text", "timestamp", "geometry", "json"]

CORE_FIELDS: dict[str, tuple[Kind, ColumnElement]] = {
    "id": ("text", items.c.id),
    "collection": ("text", items.c.collection_id),
    "datetime": ("timestamp", items.c.datetime),
    "start_datetime": ("timestamp", items.c.start_datetime),
    "end_datetime": ("timestamp", items.c.end_datetime),
    "geometry": ("geometry", items.c.geometry),
}
JSON_NULL: ColumnElement = literal_column("'null'::jsonb")


@dataclass(frozen=True)
class Field:
    """A resolved field: its name, the kind of SQL value it yields, and that value."""

    name: str
    kind: Kind
    sql: ColumnElement

    @property
    def is_property(self) -> bool:
        """True for a key of ``properties`` (as opposed to a table column)."""
        return self.kind == "json"


def canonical_name(name: str) -> str:
    """The field name without a ``properties.`` prefix (STAC sortby and filter allow it)."""
    return name.removeprefix("properties.")


def resolve_field(name: str) -> Field:
    """The field called ``name``: a core column, or else an item property."""
    canonical = canonical_name(name)
    if canonical in CORE_FIELDS:
        kind, column = CORE_FIELDS[canonical]
        return Field(canonical, kind, column)
    return Field(canonical, "json", items.c.properties[canonical])


def property_value(field: Field) -> ColumnElement:
    """A property as sorted and range-indexed: its JSON value, JSON null when missing
    (never SQL NULL). The expression of the property indexes operators declare
    (``catalog.search.property_indexes``), repeated exactly so the planner uses them."""
    return func.coalesce(field.sql, JSON_NULL)
