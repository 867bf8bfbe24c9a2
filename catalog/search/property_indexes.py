"""Indexes on item properties that operators declare, for sorting and range filters.

A declared property gets a B-tree on the expression :func:`catalog.search.sort.sort_expression`
orders by, ``coalesce(properties -> name, 'null'::jsonb)``, so a page sorted by it is read
in index order instead of sorting every match, and the range conditions the CQL2
compiler adds to numeric comparisons (``catalog.search.cql2``) are index ranges on it.

Declared for the whole catalog, the index continues with ``collection_id, id`` (the rest
of every sort order); declared for one collection, it is partial on that collection and
continues with ``id``, so it is smaller and serves that collection's searches. Indexes
are built with CREATE INDEX CONCURRENTLY: writes go on while one is built, and a build
that was interrupted (an invalid index) is dropped and made again by the next call.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from catalog.db.errors import translate_db_errors
from catalog.errors import InvalidInput, UnknownCollection
from catalog.search.fields import CORE_FIELDS, canonical_name

MAX_NAME_LENGTH = 256
_PREFIX = "items_prop_"
# Identifiers and literals are quoted by PostgreSQL's format(), never by us. The
# subscript form is the one SQLAlchemy writes for a JSONB key on PostgreSQL 14 and later;
# the planner matches `properties -> 'k'` to neither it nor back.
_CATALOG_WIDE = (
    "CREATE INDEX CONCURRENTLY %I ON items "
    "((coalesce(properties[%L], 'null'::jsonb)), collection_id, id)"
)
_ONE_COLLECTION = (
    "CREATE INDEX CONCURRENTLY %I ON items "
    "((coalesce(properties[%L], 'null'::jsonb)), id) WHERE collection_id = %L"
)


@dataclass(frozen=True)
class PropertyIndex:
    """A declared property index: the property, its collection (None: all) and whether
    the index is built and in use (``valid``)."""

    property: str
    collection_id: str | None
    index_name: str
    valid: bool


def index_name(prop: str, collection_id: str | None = None) -> str:
    """The name of the index of ``prop`` (in ``collection_id``, or catalog-wide)."""
    digest = hashlib.sha256(json.dumps([collection_id, prop]).encode()).hexdigest()
    return _PREFIX + digest[:24]


def _property_name(name: str) -> str:
    prop = canonical_name(name)
    if not prop or len(prop) > MAX_NAME_LENGTH or "\x00" in prop:
        raise InvalidInput(f"{name!r} is not a property name")
    if prop in CORE_FIELDS:
        raise InvalidInput(f"{prop!r} is a core field, indexed already")
    return prop


async def _autocommit(engine: AsyncEngine) -> AsyncConnection:
    conn = await engine.connect()
    return await conn.execution_options(isolation_level="AUTOCOMMIT")


async def _index_state(conn: AsyncConnection, name: str) -> bool | None:
    """True for a valid index, False for an invalid one (an interrupted build), None
    when there is none."""
    row = await conn.execute(
        text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": name},
    )
    return row.scalar()


async def create_property_index(
    engine: AsyncEngine, name: str, collection_id: str | None = None
) -> PropertyIndex:
    """Declare and build the index of property ``name`` (``properties.`` prefix allowed),
    for one collection or the whole catalog; calling it again changes nothing.

    Raises ``InvalidInput`` for a core field or an empty name and ``UnknownCollection``.
    Runs as long as the build (minutes over millions of items); writes are not blocked.
    """
    prop = _property_name(name)
    index = index_name(prop, collection_id)
    conn = await _autocommit(engine)
    try:
        with translate_db_errors():
            if collection_id is not None:
                found = await conn.execute(
                    text("SELECT 1 FROM collections WHERE id = :id"), {"id": collection_id}
                )
                if found.scalar() is None:
                    raise UnknownCollection(f"no collection {collection_id!r}")
            await conn.execute(
                text(
                    "INSERT INTO property_indexes (index_name, property, collection_id) "
                    "VALUES (:index, :prop, :collection) ON CONFLICT DO NOTHING"
                ),
                {"index": index, "prop": prop, "collection": collection_id},
            )
            state = await _index_state(conn, index)
            if state is False:
                await conn.exec_driver_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"')
            if state is not True:
                template = _CATALOG_WIDE if collection_id is None else _ONE_COLLECTION
                ddl = await conn.execute(
                    text("SELECT format(CAST(:template AS text), CAST(:index AS text), "
                         "CAST(:prop AS text), CAST(:collection AS text))"),
                    {"template": template, "index": index, "prop": prop,
                     "collection": collection_id},
                )
                await conn.exec_driver_sql(ddl.scalar_one())
                await conn.execute(text("ANALYZE items"))
    finally:
        await conn.close()
    return PropertyIndex(prop, collection_id, index, True)


async def drop_property_index(
    engine: AsyncEngine, name: str, collection_id: str | None = None
) -> bool:
    """Drop the declared index of ``name`` (writes go on); False when none was declared."""
    prop = _property_name(name)
    index = index_name(prop, collection_id)
    conn = await _autocommit(engine)
    try:
        with translate_db_errors():
            # The index is a name of ours (a digest), never text a caller gave.
            await conn.exec_driver_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"')
            deleted = await conn.execute(
                text("DELETE FROM property_indexes WHERE index_name = :index"),
                {"index": index},
            )
    finally:
        await conn.close()
    return bool(deleted.rowcount)


async def list_property_indexes(engine: AsyncEngine) -> list[PropertyIndex]:
    """The declared property indexes, by property then collection."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT d.property, d.collection_id, d.index_name, "
                "coalesce(i.indisvalid, false) AS valid FROM property_indexes d "
                "LEFT JOIN pg_index i ON i.indexrelid = to_regclass(d.index_name) "
                "ORDER BY d.property, d.collection_id NULLS FIRST"
            )
        )
        return [PropertyIndex(*row) for row in rows.all()]
