"""Which item columns a query selects, so the database reads only those."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

FIELD_PARTS: dict[str, tuple[str, ...]] = {
    "datetime": ("datetime",),
    "startDatetime": ("start_datetime",),
    "endDatetime": ("end_datetime",),
    "geometry": ("geometry",),
    "bbox": ("bbox",),
    "properties": ("properties",),
    "property": ("properties",),
    "stacVersion": ("stac_version",),
    "stacExtensions": ("stac_extensions",),
    "links": ("links",),
    "stac": ("stac",),
}
"""GraphQL ``Item`` fields and the parts (``catalog.search.render.ITEM_PARTS``) they read."""


def _fields(selections: Iterable[Any]) -> Iterator[Any]:
    """Selected fields, looking through fragment spreads and inline fragments."""
    for selection in selections:
        if hasattr(selection, "name") and not hasattr(selection, "type_condition"):
            yield selection
        else:
            yield from _fields(selection.selections)


def _children(field: Any, name: str) -> list[Any]:
    return [child for child in _fields(field.selections) if child.name == name]


def item_parts_of(item_fields: Iterable[Any]) -> set[str]:
    """The parts the given ``Item`` selections read."""
    parts: set[str] = set()
    for field in _fields(item_fields):
        parts.update(FIELD_PARTS.get(field.name, ()))
    return parts


def _item_selections(connection: Any) -> list[Any]:
    """What the items of a selected connection select (``edges.node`` and ``nodes``)."""
    nodes = [*_children(connection, "nodes")]
    for edge in _children(connection, "edges"):
        nodes.extend(_children(edge, "node"))
    return [child for node in nodes for child in node.selections]


def connection_item_parts(connection: Any) -> set[str]:
    """The parts read by the items of a selected connection (``edges.node`` and ``nodes``)."""
    return item_parts_of(_item_selections(connection))


def connection_item_fields(connection: Any) -> set[str]:
    """The names of the ``Item`` fields the items of a selected connection select."""
    return {field.name for field in _fields(_item_selections(connection))}
