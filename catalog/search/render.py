"""STAC JSON built inside PostgreSQL, so a search returns ready documents in one query."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    TextClause,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from catalog.db.models import Item
from catalog.stac.links import STRUCTURAL_RELS

items = Item.__table__
EMPTY: ColumnElement = literal_column("'{}'::jsonb")

# Up to 17 decimals: with shortest round-trip printing every stored double comes back
# exactly as it was given.
GEOJSON_DIGITS = 17


# What migration 0020's stacql_item_assets / stacql_item_extensions compute, written
# into the statement: a SQL function holding a subquery is not inlined, and planning
# its body again in every statement that calls it cost 0.3 ms per page of 10 items.
# The merge itself is a function that reads no table (migration 0024): Citus pushes its
# call down to the shards, where it refused a correlated subquery over jsonb_each.
_ITEM_ASSETS = """CASE WHEN items.template_id IS NULL THEN items.assets ELSE stacql_merge_assets(
    (SELECT body -> 'assets' FROM item_templates WHERE id = items.template_id),
    items.assets
) END"""
_ITEM_EXTENSIONS = """coalesce(
    items.stac_extensions,
    (SELECT body -> 'stac_extensions' FROM item_templates WHERE id = items.template_id),
    '[]'::jsonb
)"""


def item_assets_json() -> ColumnElement:
    """The ``assets`` object of the current item row (of ``items``, not aliased) as it
    was given: the stored assets with their template's members put back (migrations
    0019, 0020)."""
    return literal_column(f"({_ITEM_ASSETS})", type_=JSONB)


def item_extensions_json() -> ColumnElement:
    """The ``stac_extensions`` of the current item row (its template's when NULL)."""
    return literal_column(f"({_ITEM_EXTENSIONS})", type_=JSONB)


@cache
def item_json() -> ColumnElement:
    """The current item row (of ``items``, not aliased) as a STAC Item document.

    Compiled to SQL text once: as an expression tree SQLAlchemy would walk it again for
    the cache key of every statement it is part of, which costs more Python time than
    PostgreSQL spends building the documents of a page.
    """
    return _compiled(_item_json_expression(links=True))


def _compiled(expression: ColumnElement) -> ColumnElement:
    """``expression`` over the current item row as SQL text, in parentheses."""
    # Compiled inside a SELECT from items, so the subqueries correlate with it.
    head, tail = "SELECT ", " AS item_document \nFROM items"
    sql = str(
        select(expression.label("item_document"))
        .select_from(items)
        .compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )
    if not (sql.startswith(head) and sql.endswith(tail)):
        raise RuntimeError(f"unexpected SQL for the item document: {sql[:80]}...")
    return literal_column(f"({sql[len(head):-len(tail)]})", type_=JSONB)


@cache
def item_lookup() -> TextClause:
    """The statement of one item's document by key (parameters ``collection_id`` and
    ``item_id``; no row for an unknown key). Compiled to SQL text once, as
    :func:`item_json` (on Citus it is routed to the one shard holding the item)."""
    key: tuple[ColumnElement[Any], ColumnElement[Any]] = (
        literal_column(":collection_id"), literal_column(":item_id")
    )
    query = (
        select(_item_json_expression(links=True).label("item"))
        .select_from(items)
        .where(items.c.collection_id == key[0], items.c.id == key[1])
    )
    return text(str(query.compile(dialect=postgresql.dialect(),
                                  compile_kwargs={"literal_binds": True})))


def _item_json_expression(links: bool) -> ColumnElement:
    """The document, with ``links`` or without.

    Each ``||`` or ``-`` on a document writes the whole of it again, except where one
    side is empty (an empty ``extra``, an empty array of keys to remove): the bbox is
    built in, and taken out again only for an item without one.
    """
    members: dict[str, ColumnElement] = {
        "type": literal("Feature"),
        "stac_version": items.c.stac_version,
        "stac_extensions": item_extensions_json(),
        "id": items.c.id,
        "collection": items.c.collection_id,
        "geometry": geometry_json(),
        "bbox": items.c.bbox,
        "properties": items.c.properties,
        **({"links": items.c.links} if links else {}),
        "assets": item_assets_json(),
    }
    core = func.jsonb_build_object(*[x for pair in members.items() for x in pair])
    no_bbox = case(
        (items.c.bbox.is_(None), literal_column("'{bbox}'::text[]")),
        else_=literal_column("'{}'::text[]"),
    )
    return type_coerce(core.op("-")(no_bbox).op("||")(items.c.extra), JSONB)


def geometry_json() -> ColumnElement:
    """The current item row's geometry as GeoJSON."""
    return cast(func.ST_AsGeoJSON(items.c.geometry, GEOJSON_DIGITS), JSONB)


ITEM_PARTS: dict[str, Callable[[], ColumnElement]] = {
    "id": lambda: items.c.id,
    "collection": lambda: items.c.collection_id,
    "datetime": lambda: items.c.datetime,
    "start_datetime": lambda: items.c.start_datetime,
    "end_datetime": lambda: items.c.end_datetime,
    "geometry": geometry_json,
    "bbox": lambda: items.c.bbox,
    "properties": lambda: items.c.properties,
    "links": lambda: items.c.links,
    "stac_version": lambda: items.c.stac_version,
    "stac_extensions": item_extensions_json,
    "extra": lambda: items.c.extra,
    "updated_at": lambda: items.c.updated_at,
    "stac": item_json,
}
"""The parts of an item a caller may select, so a query reads only what it shows."""


def item_parts(names: Iterable[str]) -> list[ColumnElement]:
    """Labelled columns for the named parts (``ITEM_PARTS`` keys); id and collection
    are always included. Raises ``KeyError`` for an unknown part."""
    return list(_item_parts(tuple(dict.fromkeys(["id", "collection", *names]))))


@cache
def _item_parts(wanted: tuple[str, ...]) -> tuple[ColumnElement, ...]:
    # The same column objects for the same parts: page statements are kept by them
    # (catalog.search.engine.page_query).
    return tuple(ITEM_PARTS[name]().label(name) for name in wanted)


def item_text_parts() -> list[ColumnElement]:
    """An item as JSON text, for a caller that writes its own links around it.

    Labelled columns: ``document``, the STAC Item without ``links`` as JSON text (an
    object with at least ``type`` and ``id``); ``kept_links``, the stored links without
    the structural ones (``STRUCTURAL_RELS``, which an API writes itself) as a JSON
    array text, in stored order; ``id`` and ``collection``. Text passes through without
    being decoded and encoded again, which costs more than the rest of a page request.
    """
    return list(_item_text_parts())


@cache
def _item_text_parts() -> tuple[ColumnElement, ...]:
    without_links = _compiled(_item_json_expression(links=False))
    document = literal_column(f"({without_links.name}::text)", type_=Text)
    return (
        document.label("document"),
        _kept_links_text().label("kept_links"),
        items.c.id.label("id"),
        items.c.collection_id.label("collection"),
    )


@cache
def _kept_links_text() -> ColumnElement:
    rels = ", ".join(f"'{rel}'" for rel in sorted(STRUCTURAL_RELS))
    return literal_column(
        "(SELECT coalesce(jsonb_agg(link ORDER BY n), '[]'::jsonb)::text"
        " FROM jsonb_array_elements(items.links) WITH ORDINALITY AS kept(link, n)"
        f" WHERE NOT coalesce(link ->> 'rel' IN ({rels}), false))",
        type_=Text,
    )
