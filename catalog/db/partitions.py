"""The partitions of ``items``: one per collection (migration 0018).

A collection's partition is made when the collection is created
(:func:`ensure_item_partition`, in the creating transaction). A catalog migrated from
the single table keeps its older collections in the DEFAULT partition until an operator
moves them out (:func:`move_to_own_partition`, ``stacql db partitions move``); once the
default partition is empty it is dropped (:func:`drop_empty_default`) and attaching a
new collection's partition locks no other one. A deleted collection's partition stays
until :func:`drop_orphaned_partitions` (``stacql db partitions prune``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from catalog.db.errors import translate_db_errors
from catalog.errors import UnknownCollection

DEFAULT_PARTITION = "items_default"

_PARTITIONS = """
SELECT c.relname AS name,
       CASE WHEN pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' THEN NULL
            ELSE (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                               '^FOR VALUES IN \\(''(.*)''\\)$'))[1] END AS bound,
       greatest(c.reltuples, 0)::bigint AS estimated_rows,
       pg_total_relation_size(c.oid) AS bytes
FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid
WHERE inh.inhparent = 'items'::regclass
ORDER BY c.relname
"""


def is_item_table(name: str) -> bool:
    """Whether ``name`` is ``items`` or one of its partitions (as plans name them)."""
    return name in ("items", DEFAULT_PARTITION) or name.startswith("items_c_")


@dataclass(frozen=True)
class ItemPartition:
    """A partition of ``items``: its table, the collection it holds (None for the
    default partition), the planner's row estimate and its size on disk with indexes."""

    table: str
    collection_id: str | None
    estimated_rows: int
    bytes: int


async def ensure_item_partition(session: AsyncSession, collection_id: str) -> str:
    """Make the partition of ``collection_id``'s items unless it exists; the caller
    commits. Returns the table that holds them (the default partition while it holds
    older collections' rows)."""
    with translate_db_errors():
        row = await session.execute(
            text("SELECT stacql_ensure_item_partition(:id)::text"), {"id": collection_id}
        )
    return str(row.scalar_one())


async def analyze_new_partitions(sessions: async_sessionmaker[AsyncSession]) -> None:
    """ANALYZE the partitions of ``items`` that hold items but have no statistics of
    them (a bulk load's new collections): never analyzed, the planner guesses their sizes
    from their pages, many times too high for small ones; analyzed while still empty
    (loading a collection's file before its items), it takes them for empty. Estimated
    counts and plans follow the guess."""
    async with sessions() as session:
        rows = await session.execute(text(
            "SELECT c.oid::regclass::text FROM pg_inherits inh JOIN pg_class c "
            "ON c.oid = inh.inhrelid WHERE inh.inhparent = 'items'::regclass "
            "AND c.reltuples <= 0"
        ))
        for (table,) in rows.all():
            # Names from the catalog, not from a caller.
            if (await session.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))).scalar():
                await session.execute(text(f"ANALYZE {table}"))
        await session.commit()


async def item_partitions(conn: AsyncConnection) -> list[ItemPartition]:
    """The partitions of ``items``, by table name."""
    rows = await conn.execute(text(_PARTITIONS))
    return [
        ItemPartition(r.name, _unquote(r.bound), r.estimated_rows, r.bytes) for r in rows
    ]


def _unquote(bound: str | None) -> str | None:
    # pg_get_expr writes the bound as a literal, quotes doubled.
    return None if bound is None else bound.replace("''", "'")


async def collections_in_default(conn: AsyncConnection) -> list[str]:
    """The collections whose items are still in the default partition."""
    exists = await conn.execute(text("SELECT to_regclass(:t)"), {"t": DEFAULT_PARTITION})
    if exists.scalar() is None:
        return []
    rows = await conn.execute(
        text(f"SELECT DISTINCT collection_id FROM {DEFAULT_PARTITION} ORDER BY 1")
    )
    return list(rows.scalars())


async def move_to_own_partition(engine: AsyncEngine, collection_id: str) -> int:
    """Move a collection's items out of the default partition into a partition of its
    own, in one transaction; returns the number of items moved (0 when it had its own).

    Writers of this collection wait (its row is locked), others go on until the final
    attach, which holds the default partition exclusively while it checks that no row
    of the collection is left there (one scan of what remains in it).
    """
    async with engine.begin() as conn:
        with translate_db_errors():
            found = await conn.execute(
                text("SELECT 1 FROM collections WHERE id = :id FOR UPDATE"),
                {"id": collection_id},
            )
            if found.scalar() is None:
                raise UnknownCollection(f"no collection {collection_id!r}")
            suffix, current = (await conn.execute(
                text("SELECT stacql_item_partition_suffix(:id), stacql_item_partition_of(:id)"),
                {"id": collection_id},
            )).one()
            table = f"items_c_{suffix}"
            if current == table:
                return 0
            # The table name is ours (a digest); the collection id is bound.
            await conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}"')
            await conn.exec_driver_sql(
                f'CREATE TABLE "{table}" (LIKE items INCLUDING DEFAULTS INCLUDING '
                "CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)"
            )
            # Rows move between partitions of the same table: written straight into
            # the partitions, they fire none of the triggers of `items` (no asset is
            # deleted, no change is notified).
            moved = await conn.execute(
                text(
                    f'INSERT INTO "{table}" SELECT * FROM {DEFAULT_PARTITION} '
                    "WHERE collection_id = :id"
                ),
                {"id": collection_id},
            )
            await conn.execute(
                text(f"DELETE FROM {DEFAULT_PARTITION} WHERE collection_id = :id"),
                {"id": collection_id},
            )
            bound = await conn.execute(
                text("SELECT format('FOR VALUES IN (%L)', CAST(:id AS text))"),
                {"id": collection_id},
            )
            await conn.exec_driver_sql(
                f'ALTER TABLE items ATTACH PARTITION "{table}" {bound.scalar_one()}'
            )
            await conn.execute(
                text("SELECT stacql_adopt_item_partition(CAST(:t AS regclass), :s)"),
                {"t": table, "s": suffix},
            )
            await _carry_collection_indexes(conn, collection_id, table)
    return int(moved.rowcount)


async def _carry_collection_indexes(
    conn: AsyncConnection, collection_id: str, table: str
) -> None:
    """The property indexes declared for this collection alone, from the default
    partition to the collection's new one (built here: the new table is still ours).
    There they lose the condition on the collection, which only the shared default
    partition needs (``catalog.search.property_indexes``)."""
    declared = await conn.execute(
        text(
            "SELECT d.index_name, pg_get_indexdef(to_regclass(d.index_name)) "
            "FROM property_indexes d WHERE d.collection_id = :id "
            "AND to_regclass(d.index_name) IS NOT NULL"
        ),
        {"id": collection_id},
    )
    for name, definition in declared.all():
        await conn.exec_driver_sql(f'DROP INDEX "{name}"')
        # The condition comes last; the key before it may quote any property name.
        whole = definition.rpartition(" WHERE (collection_id = ")[0] or definition
        await conn.exec_driver_sql(
            whole.replace(f" ON public.{DEFAULT_PARTITION} ", f' ON public."{table}" ')
        )


async def drop_empty_default(engine: AsyncEngine, attempts: int = 10) -> bool:
    """Detach and drop the default partition if it is empty; True when dropped.

    PostgreSQL detaches a default partition only under an exclusive lock on ``items``:
    it is asked for with a short lock timeout, so searches queue behind it for at most
    that long, and asked again after a failed try.
    """
    for attempt in range(attempts):
        async with engine.begin() as conn:
            if (await conn.execute(text("SELECT to_regclass(:t)"),
                                   {"t": DEFAULT_PARTITION})).scalar() is None:
                return False
            if not await lock_items_exclusively(conn, DEFAULT_PARTITION):
                await asyncio.sleep(min(2**attempt, 30) / 10)
                continue
            rows = await conn.execute(text(f"SELECT 1 FROM {DEFAULT_PARTITION} LIMIT 1"))
            if rows.scalar() is not None:
                return False
            await conn.exec_driver_sql(f"ALTER TABLE items DETACH PARTITION {DEFAULT_PARTITION}")
            await conn.exec_driver_sql(f"DROP TABLE {DEFAULT_PARTITION}")
            return True
    return False


async def lock_items_exclusively(conn: AsyncConnection, table: str) -> bool:
    """Take ``items`` and its partition ``table`` exclusively, waiting at most a short
    lock timeout (searches queue behind the request for no longer); False if not got."""
    await conn.execute(text("SET LOCAL lock_timeout = '2s'"))
    try:
        async with conn.begin_nested():
            await conn.exec_driver_sql(f'LOCK TABLE items, "{table}" IN ACCESS EXCLUSIVE MODE')
    except DBAPIError:
        return False
    return True


async def drop_orphaned_partitions(engine: AsyncEngine, attempts: int = 10) -> list[str]:
    """Drop the empty partitions whose collection was deleted; returns their tables.

    A deleted collection's partition is kept (recreating the collection reuses it, and
    dropping a partition needs an exclusive lock on ``items`` that a request should not
    wait for); an operator prunes them here. A collection created meanwhile keeps its
    partition: its creation holds a lock on ``items`` until it commits.
    """
    async with engine.connect() as conn:
        orphans = [p.table for p in await item_partitions(conn)
                   if p.collection_id is not None
                   and await _collection_missing(conn, p.collection_id)]
    dropped: list[str] = []
    for table in orphans:
        for attempt in range(attempts):
            async with engine.begin() as conn:
                if not await lock_items_exclusively(conn, table):
                    await asyncio.sleep(min(2**attempt, 30) / 10)
                    continue
                bound = next((p.collection_id for p in await item_partitions(conn)
                              if p.table == table), None)
                empty = (await conn.execute(
                    text(f'SELECT NOT EXISTS (SELECT 1 FROM "{table}")'))).scalar()
                if bound is not None and empty and await _collection_missing(conn, bound):
                    await conn.exec_driver_sql(f'DROP TABLE "{table}"')
                    dropped.append(table)
                break
    return dropped


async def _collection_missing(conn: AsyncConnection, collection_id: str) -> bool:
    row = await conn.execute(
        text("SELECT NOT EXISTS (SELECT 1 FROM collections WHERE id = :id)"),
        {"id": collection_id},
    )
    return bool(row.scalar())


async def move_all_to_own_partitions(
    engine: AsyncEngine, progress: Callable[[str, int], None] | None = None
) -> int:
    """Move every collection out of the default partition, then drop it when empty;
    returns the number of items moved. ``progress(collection_id, moved)`` after each."""
    total = 0
    done: set[str] = set()
    while True:
        async with engine.connect() as conn:
            # Collections created meanwhile may have joined it; one left behind twice
            # (its collection deleted meanwhile) is not retried forever.
            pending = [c for c in await collections_in_default(conn) if c not in done]
        if not pending:
            break
        for collection_id in pending:
            done.add(collection_id)
            try:
                moved = await move_to_own_partition(engine, collection_id)
            except UnknownCollection:
                moved = 0
            total += moved
            if progress is not None:
                progress(collection_id, moved)
    await drop_empty_default(engine)
    return total


SPLIT_INTERVALS = ("year", "month")


@dataclass(frozen=True)
class SplitReport:
    """What splitting a collection did: its sub-partitions (tables) and items moved."""

    tables: list[str]
    moved: int


async def split_collection(
    engine: AsyncEngine,
    collection_id: str,
    interval: str,
    progress: Callable[[str], None] | None = None,
    attempts: int = 10,
) -> SplitReport:
    """Split a collection's partition by time range: a RANGE (datetime) partitioned table
    of one sub-partition per ``interval`` ("year" or "month") that holds items, and a
    DEFAULT one; returns the sub-partitions and the items moved.

    One transaction. The collection's writers wait for it from the start (its row is
    locked), its readers and every other collection go on while the items are copied
    into the new table and indexed; the swap of the two tables then holds ``items``
    exclusively for a moment (asked for with a short lock timeout, again after a failed
    try). Writers then make the sub-partitions of new intervals as their items arrive
    (``stacql_ensure_item_subpartitions``). ``progress`` is told each step.
    """
    if interval not in SPLIT_INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(SPLIT_INTERVALS)}")
    say = progress or (lambda _message: None)
    async with engine.begin() as conn:
        with translate_db_errors():
            if (await conn.execute(text(
                "SELECT 1 FROM pg_extension WHERE extname = 'citus'"
            ))).scalar():
                raise ValueError("a distributed catalog's partitions are not split here")
            found = await conn.execute(
                text("SELECT 1 FROM collections WHERE id = :id FOR UPDATE"),
                {"id": collection_id},
            )
            if found.scalar() is None:
                raise UnknownCollection(f"no collection {collection_id!r}")
            suffix, current, split, options = (await conn.execute(text(
                "SELECT stacql_item_partition_suffix(:id), p.name, c.relkind = 'p', "
                "array_to_string(c.reloptions, ', ') "
                "FROM stacql_item_partition_of(:id) AS p(name) "
                "JOIN pg_class c ON c.oid = to_regclass(quote_ident(p.name))"
            ), {"id": collection_id})).one()
            table = f"items_c_{suffix}"
            if current != table:
                raise ValueError(
                    f"{collection_id!r} is in the default partition: "
                    "run `stacql db partitions move` first"
                )
            if split:
                raise ValueError(f"{collection_id!r} is split already")
            return await _split(conn, collection_id, table, suffix, interval, options, say,
                                attempts)


async def _split(
    conn: AsyncConnection,
    collection_id: str,
    table: str,
    suffix: str,
    interval: str,
    options: str | None,
    say: Callable[[str], None],
    attempts: int,
) -> SplitReport:
    # Every name here is ours (a digest and a label), the collection id is bound.
    new = f"{table}_new"
    literal = (await conn.execute(
        text("SELECT quote_literal(CAST(:id AS text))"), {"id": collection_id}
    )).scalar_one()
    with_options = f" WITH ({options})" if options else ""
    await conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{new}"')
    await conn.exec_driver_sql(
        f'CREATE TABLE "{new}" (LIKE items INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
        "INCLUDING STORAGE INCLUDING COMPRESSION) PARTITION BY RANGE (datetime)"
    )
    await conn.exec_driver_sql(
        f'CREATE TABLE "{new}_default" PARTITION OF "{new}" DEFAULT{with_options}'
    )
    starts = (await conn.execute(text(
        f"SELECT DISTINCT date_trunc(CAST(:unit AS text), datetime, 'UTC') FROM \"{table}\" "
        "ORDER BY 1"
    ), {"unit": interval})).scalars().all()
    for start in starts:
        await conn.execute(
            text("SELECT stacql_add_item_subpartition(:parent, :unit, :starts)"),
            {"parent": new, "unit": interval, "starts": start},
        )
    # The check lets the attach skip its scan of the rows (it implies the bound); added
    # once the sub-partitions are made (each gets it), while they are empty.
    await conn.exec_driver_sql(
        f'ALTER TABLE "{new}" ADD CONSTRAINT stacql_split_check CHECK (collection_id = {literal})'
    )
    say(f"{len(starts)} sub-partitions made; copying the items")
    moved = await conn.execute(text(f'INSERT INTO "{new}" SELECT * FROM "{table}"'))
    say(f"{moved.rowcount} items copied; indexing")
    await conn.exec_driver_sql(
        f'ALTER TABLE "{new}" ADD PRIMARY KEY (collection_id, id, datetime)'
    )
    definitions = (await conn.execute(text(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = 'items'::regclass AND NOT i.indisprimary"
    ))).scalars().all()
    for definition in definitions:
        # The parent's index, unnamed (PostgreSQL names it; the swap renames it).
        method = definition[definition.index(" USING "):]
        await conn.exec_driver_sql(f'CREATE INDEX ON "{new}"{method}')
    # The property indexes declared for this collection alone (built here on the new
    # table, under another name until the old table and its index are gone).
    declared = (await conn.execute(text(
        "SELECT d.index_name, pg_get_indexdef(to_regclass(d.index_name)) "
        "FROM property_indexes d WHERE d.collection_id = :id "
        "AND to_regclass(d.index_name) IS NOT NULL"
    ), {"id": collection_id})).all()
    for number, (_name, definition) in enumerate(declared):
        method = definition[definition.index(" USING "):]
        await conn.exec_driver_sql(f'CREATE INDEX "{new}_prop{number}" ON "{new}"{method}')
    say("indexed; swapping the tables")
    for attempt in range(attempts + 1):
        if attempt == attempts:
            await conn.exec_driver_sql(
                f'LOCK TABLE items, "{table}" IN ACCESS EXCLUSIVE MODE'
            )
            break
        if await lock_items_exclusively(conn, table):
            break
        await asyncio.sleep(min(2**attempt, 30) / 10)
    bound = (await conn.execute(
        text("SELECT format('FOR VALUES IN (%L)', CAST(:id AS text))"), {"id": collection_id}
    )).scalar_one()
    await conn.exec_driver_sql(f'DROP TABLE "{table}"')
    await conn.exec_driver_sql(f'ALTER TABLE "{new}" RENAME TO "{table}"')
    tables = [f"{table}{name[len(new):]}" for name in await _subpartitions(conn, table)]
    for name in await _subpartitions(conn, table):
        await conn.exec_driver_sql(f'ALTER TABLE "{name}" RENAME TO "{table}{name[len(new):]}"')
    await conn.exec_driver_sql(f'ALTER TABLE items ATTACH PARTITION "{table}" {bound}')
    await conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT stacql_split_check')
    await conn.exec_driver_sql(f"COMMENT ON TABLE \"{table}\" IS 'stacql split: {interval}'")
    await _name_indexes(conn, table, suffix)
    for number, (name, _definition) in enumerate(declared):
        await conn.exec_driver_sql(f'ALTER INDEX "{new}_prop{number}" RENAME TO "{name}"')
    say("done")
    return SplitReport(sorted(tables), int(moved.rowcount))


async def _subpartitions(conn: AsyncConnection, table: str) -> list[str]:
    rows = await conn.execute(text(
        "SELECT c.relname FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid "
        "WHERE inh.inhparent = to_regclass(quote_ident(:t)) ORDER BY 1"
    ), {"t": table})
    return list(rows.scalars())


async def _name_indexes(conn: AsyncConnection, table: str, suffix: str) -> None:
    """The indexes of a split partition named as those of any partition (the parent's
    name and the suffix: ``stacql_adopt_item_partition``, which would also set storage
    options a partitioned table cannot have)."""
    rows = await conn.execute(text(
        "SELECT child.relname, parent.relname FROM pg_index i "
        "JOIN pg_class child ON child.oid = i.indexrelid "
        "JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid "
        "JOIN pg_class parent ON parent.oid = inh.inhparent "
        "WHERE i.indrelid = to_regclass(quote_ident(:t))"
    ), {"t": table})
    for child, parent in rows.all():
        if child != f"{parent}__{suffix}":
            await conn.exec_driver_sql(f'ALTER INDEX "{child}" RENAME TO "{parent}__{suffix}"')


@dataclass(frozen=True)
class ItemSubpartition:
    """A sub-partition of a split collection's partition: its table, the partition, its
    time range as PostgreSQL writes it (``FOR VALUES FROM (...) TO (...)``, ``DEFAULT``),
    the planner's row estimate and its size on disk with indexes."""

    table: str
    partition: str
    bound: str
    estimated_rows: int
    bytes: int


async def item_subpartitions(conn: AsyncConnection) -> list[ItemSubpartition]:
    """The sub-partitions of the partitions of ``items`` split by time range."""
    rows = await conn.execute(text(
        "SELECT c.relname AS name, p.relname AS parent, "
        "pg_get_expr(c.relpartbound, c.oid) AS bound, "
        "greatest(c.reltuples, 0)::bigint AS estimated_rows, "
        "pg_total_relation_size(c.oid) AS bytes "
        "FROM pg_partition_tree('items') t JOIN pg_class c ON c.oid = t.relid "
        "JOIN pg_class p ON p.oid = t.parentrelid WHERE t.level = 2 "
        "ORDER BY p.relname, c.relname"
    ))
    return [ItemSubpartition(r.name, r.parent, r.bound, r.estimated_rows, r.bytes)
            for r in rows]
