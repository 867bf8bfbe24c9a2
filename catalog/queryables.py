"""The properties seen in each collection and their JSON types.

Kept per collection as ``{name: [json type, ...]}`` so that sortby can refuse unknown
fields and the APIs can publish queryables without scanning the items.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.driver import Reader
from catalog.stac.common import dumps
from catalog.stac.items import ItemRecord


def json_type(value: Any) -> str:
    """The JSON Schema type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def property_types(records: Iterable[ItemRecord]) -> dict[str, dict[str, set[str]]]:
    """Per collection, the property names of ``records`` and the JSON types they take."""
    # Items of a batch mostly share their property names and value types: each distinct
    # combination is examined once.
    shapes: dict[tuple[str, tuple[str, ...], tuple[type, ...]], dict[str, Any]] = {}
    for record in records:
        properties = record.properties
        shape = (record.collection_id, tuple(properties), tuple(map(type, properties.values())))
        if shape not in shapes:
            shapes[shape] = properties
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (collection_id, _, _), properties in shapes.items():
        seen = found[collection_id]
        for name, value in properties.items():
            seen[name].add(json_type(value))
    return found


async def merge_queryables(
    session: AsyncSession, found: dict[str, dict[str, set[str]]]
) -> None:
    """Add newly seen properties and types to each collection's queryables.

    The row is locked FOR NO KEY UPDATE, not FOR UPDATE: every writer of items holds a
    KEY SHARE lock on it, and FOR UPDATE would wait for every concurrent writer of the
    collection while they wait for us (a deadlock).
    """
    for collection_id, names in sorted(found.items()):
        row = await session.execute(
            text("SELECT queryables FROM collections WHERE id = :id FOR NO KEY UPDATE"),
            {"id": collection_id},
        )
        stored: dict[str, list[str]] = row.scalar_one()
        merged = {name: set(types) for name, types in stored.items()}
        for name, types in names.items():
            merged.setdefault(name, set()).update(types)
        if merged == {name: set(types) for name, types in stored.items()}:
            continue
        await session.execute(
            text("UPDATE collections SET queryables = CAST(:q AS jsonb) WHERE id = :id"),
            {"id": collection_id, "q": dumps({k: sorted(v) for k, v in merged.items()})},
        )


def _visible(readable_private: frozenset[str] | None) -> tuple[str, dict[str, Any]]:
    """A condition on ``collections`` keeping those the caller may read (None: all)."""
    if readable_private is None:
        return "TRUE", {}
    return "(NOT private OR id = ANY(:readable))", {"readable": sorted(readable_private)}


async def known_properties(
    session: Reader,
    collections: Iterable[str] | None,
    readable_private: frozenset[str] | None = None,
) -> set[str]:
    """Property names seen in the given collections (all collections when None) that the
    caller may read (``readable_private``: the private ones it may read; None: all)."""
    visible, params = _visible(readable_private)
    query = f"SELECT DISTINCT jsonb_object_keys(queryables) FROM collections WHERE {visible}"
    if collections is not None:
        query += " AND id = ANY(:ids)"
        params["ids"] = list(collections)
    rows = await session.execute(text(query), params)
    return {name for (name,) in rows.all()}


async def property_types_of(
    session: AsyncSession,
    collection_id: str | None,
    readable_private: frozenset[str] | None = None,
) -> dict[str, list[str]]:
    """``{property: [json types]}`` seen in one collection, or across all of those the
    caller may read (see ``known_properties``)."""
    visible, params = _visible(readable_private)
    query = f"SELECT queryables FROM collections WHERE {visible}"
    if collection_id is not None:
        query += " AND id = :id"
        params["id"] = collection_id
    rows = await session.execute(text(query), params)
    merged: dict[str, set[str]] = defaultdict(set)
    for (stored,) in rows.all():
        for name, types in stored.items():
            merged[name].update(types)
    return {name: sorted(types) for name, types in sorted(merged.items())}
