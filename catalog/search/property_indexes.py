"""Indexes on item properties that operators declare, for sorting and range filters.

A declared property gets a B-tree on the expression :func:`catalog.search.sort.sort_expression`
orders by, ``coalesce(properties -> name, 'null'::jsonb)``, so a page sorted by it is read
in index order instead of sorting every match, and the range conditions the CQL2
compiler adds to numeric comparisons (``catalog.search.cql2``) are index ranges on it.

The index continues with ``collection_id, id``, the rest of every sort order. Declared
for the whole catalog it has a part on every partition; declared for one collection it is
on the partition that holds the collection, and partial on the collection only where that
partition is the shared default one. A partial index serves no search that names no
collection (PostgreSQL does not prove its condition from the partition's bound), and a key
without ``collection_id`` gives no order across collections: whole, and with the full key,
the collection's index also serves a sort across all collections, as one ordered input
of a Merge Append (the other collections are sorted). Indexes are built
with CREATE INDEX CONCURRENTLY, partition by partition: writes go on while one is built,
and a build that was interrupted (an invalid index) is dropped and made again by the
next call.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from catalog.db.errors import translate_db_errors
from catalog.db.partitions import DEFAULT_PARTITION
from catalog.errors import InvalidInput, UnknownCollection
from catalog.search.fields import CORE_FIELDS, canonical_name

MAX_NAME_LENGTH = 256
_PREFIX = "items_prop_"
# Identifiers and literals are quoted by PostgreSQL's format(), never by us. The
# subscript form is the one SQLAlchemy writes for a JSONB key on PostgreSQL 14 and later;
# the planner matches `properties -> 'k'` to neither it nor back.
_KEY = "(coalesce(properties[%L], 'null'::jsonb))"
# `items` is partitioned (migration 0018), and PostgreSQL builds no index of a
# partitioned table CONCURRENTLY: the catalog-wide index is made on the parent alone
# (invalid until every partition has its part), then built on each partition
# concurrently and attached; partitions made later get their part when attached.
_PARENT = "CREATE INDEX IF NOT EXISTS %I ON ONLY items (" + _KEY + ", collection_id, id)"
_PART = "CREATE INDEX CONCURRENTLY %I ON %I (" + _KEY + ", collection_id, id)"
_ATTACH = "ALTER INDEX %I ATTACH PARTITION %I"
# A collection's own index lives on the partition holding it; on the default partition,
# shared with other collections, it is partial on the collection.
_ONE_COLLECTION = _PART
_ONE_COLLECTION_SHARED = _PART + " WHERE collection_id = %L"
# Indexes declared before the key above were (property, id), partial on the collection.
_CURRENT_SHAPE = """
SELECT i.indnkeyatts = 3 AND (i.indpred IS NOT NULL) = :partial
FROM pg_index i WHERE i.indexrelid = to_regclass(:name)
"""
_NEXT = "_next"
_MISSING_PARTS = """
SELECT c.relname AS partition,
       :index || '__' || regexp_replace(c.relname, '^items_(c_)?', '') AS part_index
FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid
WHERE inh.inhparent = 'items'::regclass
AND NOT EXISTS (
    SELECT 1 FROM pg_inherits ii JOIN pg_index i ON i.indexrelid = ii.inhrelid
    WHERE ii.inhparent = to_regclass(:index) AND i.indrelid = c.oid AND i.indisvalid
)
ORDER BY c.relname
"""


@dataclass(frozen=True)
class PropertyIndex:
    """A declared property index: the property, its collection (None: all), whether
    the index is built and in use (``valid``), and whether it has the current shape
    (``current``: False for a collection index made before the key held
    ``collection_id``, which declaring it again rebuilds)."""

    property: str
    collection_id: str | None
    index_name: str
    valid: bool
    current: bool = True


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


async def _format(conn: AsyncConnection, template: str, *args: str) -> str:
    placeholders = ", ".join(f"CAST(:a{i} AS text)" for i in range(len(args)))
    row = await conn.execute(
        text(f"SELECT format(CAST(:template AS text), {placeholders})"),
        {"template": template, **{f"a{i}": arg for i, arg in enumerate(args)}},
    )
    return str(row.scalar_one())


async def _build_concurrently(conn: AsyncConnection, name: str, ddl: str) -> None:
    """Build an index unless a valid one of that name exists; an invalid one (an
    interrupted build) is dropped first."""
    state = await _index_state(conn, name)
    if state is True:
        return
    if state is False:
        await conn.exec_driver_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    await conn.exec_driver_sql(ddl)


async def _build_on(
    conn: AsyncConnection, name: str, table: str, template: str, *args: str
) -> None:
    """Build index ``name`` of ``template`` (its first two arguments the index and the
    table, then ``args``) on a partition of ``items``. A collection split by time range
    (``catalog.db.partitions.split_collection``) is itself partitioned: its index is
    made on it alone, then built on each sub-partition concurrently and attached
    (sub-partitions made later get theirs when attached)."""
    split = (await conn.execute(
        text("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(quote_ident(:t))"),
        {"t": table},
    )).scalar()
    if not split:
        await _build_concurrently(conn, name, await _format(conn, template, name, table, *args))
        return
    only = template.replace("CREATE INDEX CONCURRENTLY %I ON %I",
                            "CREATE INDEX IF NOT EXISTS %I ON ONLY %I")
    await conn.exec_driver_sql(await _format(conn, only, name, table, *args))
    leaves = await conn.execute(text(
        "SELECT c.relname FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid "
        "WHERE inh.inhparent = to_regclass(quote_ident(:t)) ORDER BY 1"
    ), {"t": table})
    for (leaf,) in leaves.all():
        # "<index>_y2021", "<index>_default": at most 61 characters.
        leaf_index = name + leaf[len(table):]
        await _build_concurrently(
            conn, leaf_index, await _format(conn, template, leaf_index, leaf, *args)
        )
        # Attaching an index attached already changes nothing.
        await conn.exec_driver_sql(await _format(conn, _ATTACH, name, leaf_index))


async def _build_catalog_wide(conn: AsyncConnection, index: str, prop: str) -> None:
    await conn.exec_driver_sql(await _format(conn, _PARENT, index, prop))
    parts = await conn.execute(text(_MISSING_PARTS), {"index": index})
    for partition, part_index in parts.all():
        await _build_on(conn, part_index, partition, _PART, prop)
        await conn.exec_driver_sql(await _format(conn, _ATTACH, index, part_index))


async def _build_for_collection(
    conn: AsyncConnection, index: str, prop: str, collection_id: str
) -> None:
    """Build the collection's index, or rebuild one of an older shape (:data:`_CURRENT_SHAPE`)
    without blocking writes: the new one is built beside it under another name, then the
    old one is dropped and the new one renamed. A rebuild interrupted after the drop is
    finished by the next call."""
    partition = (await conn.execute(
        text("SELECT stacql_item_partition_of(:id)"), {"id": collection_id}
    )).scalar_one()
    partial = partition == DEFAULT_PARTITION
    template, args = (
        (_ONE_COLLECTION_SHARED, (prop, collection_id)) if partial else (_ONE_COLLECTION, (prop,))
    )
    state = await _index_state(conn, index)
    if state is None and await _index_state(conn, index + _NEXT) is True:
        await _rename_index(conn, index + _NEXT, index, partition)
        return
    if not state:
        await _build_on(conn, index, partition, template, *args)
        return
    current = await conn.execute(text(_CURRENT_SHAPE), {"name": index, "partial": partial})
    if current.scalar():
        return
    await _build_on(conn, index + _NEXT, partition, template, *args)
    await _drop_index(conn, index)
    await _rename_index(conn, index + _NEXT, index, partition)


async def _drop_index(conn: AsyncConnection, index: str) -> None:
    """Drop an index of a partition: CONCURRENTLY (writes go on), except a split
    collection's, an index of a partitioned table, which PostgreSQL drops only with a
    short exclusive lock on the table (no scan: the time of the catalog update)."""
    partitioned = (await conn.execute(
        text("SELECT relkind = 'I' FROM pg_class WHERE oid = to_regclass(:i)"), {"i": index}
    )).scalar()
    concurrently = "" if partitioned else "CONCURRENTLY "
    # The index is a name of ours (a digest), never text a caller gave.
    await conn.exec_driver_sql(f'DROP INDEX {concurrently}IF EXISTS "{index}"')


async def _rename_index(conn: AsyncConnection, old: str, new: str, table: str) -> None:
    """Rename index ``old`` of ``table`` to ``new``, with its parts on a split
    collection's sub-partitions (named as :func:`_build_on` names them)."""
    leaves = await conn.execute(text(
        "SELECT c.relname FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid "
        "WHERE inh.inhparent = to_regclass(quote_ident(:t)) ORDER BY 1"
    ), {"t": table})
    for (leaf,) in leaves.all():
        suffix = leaf[len(table):]
        if await _index_state(conn, old + suffix) is not None:
            await conn.exec_driver_sql(f'ALTER INDEX "{old + suffix}" RENAME TO "{new + suffix}"')
    await conn.exec_driver_sql(f'ALTER INDEX "{old}" RENAME TO "{new}"')


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
            if collection_id is None:
                await _build_catalog_wide(conn, index, prop)
            else:
                await _build_for_collection(conn, index, prop, collection_id)
            await conn.execute(text("ANALYZE items"))
    finally:
        await conn.close()
    return PropertyIndex(prop, collection_id, index, True)


async def drop_property_index(
    engine: AsyncEngine, name: str, collection_id: str | None = None
) -> bool:
    """Drop the declared index of ``name``; False when none was declared.

    A collection's index is dropped CONCURRENTLY (writes go on); a catalog-wide one is an
    index of the partitioned table, which PostgreSQL drops only with a short exclusive
    lock on ``items`` (no build, no scan: the time of the catalog update).
    """
    prop = _property_name(name)
    index = index_name(prop, collection_id)
    conn = await _autocommit(engine)
    try:
        with translate_db_errors():
            await _drop_index(conn, index)
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
                "coalesce(i.indisvalid, false) AS valid, "
                "coalesce(i.indnkeyatts = 3 AND (i.indpred IS NULL "
                "OR i.indrelid = to_regclass(:shared)), true) AS current "
                "FROM property_indexes d "
                "LEFT JOIN pg_index i ON i.indexrelid = to_regclass(d.index_name) "
                "ORDER BY d.property, d.collection_id NULLS FIRST"
            ),
            {"shared": DEFAULT_PARTITION},
        )
        return [PropertyIndex(*row) for row in rows.all()]
