"""Loading a collection's first items into a table of their own, indexed once they are in.

A bulk load into an empty partition would otherwise update every index of ``items``
row by row, in the random key order of the file: slower than building each index once
from the rows, and the indexes end up about a third larger than built ones. So when a
load's first batch for a collection is large and the collection's partition is its own
and empty, the load writes that collection's batches into a staging table of the
partition's shape (its primary key only), then:

1. builds the partition's other indexes on it, several at once on the load's connections,
   its primary key again (packed), and its foreign key (one join, where the partition
   checks one row at a time);
2. in one short transaction, under an exclusive lock on ``items`` (asked for with a
   2 s lock timeout, asked again after a failed try), drops the empty partition and
   attaches the staging table in its place, with the partition's name and index names.

Readers see the collection empty until that commit, then all its staged items with
every index valid; never a half-built index. A load that fails drops the staging table:
the partition is left as it was, empty with its indexes. Should the partition no longer
be empty at the end (another writer wrote the collection meanwhile), the staged items
are merged into ``items`` as a load of changed items would be.

A load holds an advisory lock on each of its staging tables while it uses them, so the
next load (or ``stacql db clean-staging``) drops the table of a loader killed outright,
and only such tables (``catalog.ingest.staging_tables``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from catalog.db.errors import DATABASE_ERRORS
from catalog.db.partitions import lock_items_exclusively
from catalog.ingest.items import merge_staged_rows
from catalog.ingest.staging_tables import (
    CHECK,
    PREFIX,
    StagingClaims,
    drop_orphaned_staging_tables,
    engine_of,
)

log = logging.getLogger(__name__)
# A collection's first batch must hold this many items for its load to be staged: below
# it, building the indexes and swapping the tables cost more than they save.
STAGE_MIN_ITEMS = 2_000
# Tries at the exclusive lock of the swap, each waiting at most the lock timeout.
SWAP_ATTEMPTS = 10
# Names tried for a staging table whose lock is held (a hash shared with another name).
_NAME_ATTEMPTS = 5


@dataclass(frozen=True)
class StagedPartition:
    """A collection whose items a load writes into ``table`` until it replaces
    ``partition``."""

    collection_id: str
    partition: str
    suffix: str
    table: str


@dataclass
class Staging:
    """The collections of one load and where their items go (None: into ``items``)."""

    sessions: async_sessionmaker[AsyncSession]
    min_items: int = STAGE_MIN_ITEMS
    tables: dict[str, StagedPartition | None] = field(default_factory=dict)
    swept: bool = field(default=False, init=False)
    claims: StagingClaims = field(init=False)

    def __post_init__(self) -> None:
        self.claims = StagingClaims(engine_of(self.sessions))

    def table_of(self, collection_id: str) -> str:
        """The table a batch of this collection's items goes into."""
        staged = self.tables.get(collection_id)
        return staged.table if staged else "items"

    async def decide(self, collection_id: str, batch_size: int) -> None:
        """Whether the load stages this collection, on seeing its first batch. The
        load's first batch first drops the staging tables of loads that are gone; each
        staged batch checks the load still holds its tables' locks (one round trip: a
        sweep could drop a table whose lock a reconnection lost)."""
        if not self.swept:
            self.swept = True
            await _sweep(self.sessions)
        if collection_id not in self.tables:
            staged = None
            if batch_size >= self.min_items:
                staged = await _begin(self.sessions, self.claims, collection_id)
            self.tables[collection_id] = staged
        elif self.tables[collection_id]:
            try:
                await self.claims.keep()
            except DATABASE_ERRORS:  # the batch's write retries; the next batch checks again
                log.warning("could not check the locks of the staging tables", exc_info=True)

    def staged(self, collection_ids: Sequence[str]) -> list[str]:
        """Those of ``collection_ids`` whose items are staged."""
        return [c for c in collection_ids if self.tables.get(c)]

    def settle(self, collection_ids: Sequence[str]) -> None:
        """The collections' next items go into ``items`` (those not seen yet too)."""
        for collection_id in collection_ids:
            self.tables[collection_id] = None

    async def finish(self, collection_id: str, connections: int) -> None:
        """Index the collection's staged items and put them in its partition's place."""
        staged = self.tables.get(collection_id)
        self.tables[collection_id] = None
        if staged:
            try:
                await self.claims.keep()
                await _finish(self.sessions, staged, connections)
            except BaseException:
                await _drop(self.sessions, staged)
                raise
            finally:
                await self.claims.release(staged.table)

    async def finish_all(self, connections: int) -> None:
        """``finish`` every staged collection."""
        for collection_id in self.staged(list(self.tables)):
            await self.finish(collection_id, connections)

    async def abandon(self) -> None:
        """Drop every staging table (a failed load); their items are not written."""
        for collection_id in self.staged(list(self.tables)):
            staged = self.tables.pop(collection_id)
            assert staged is not None
            try:
                await _drop(self.sessions, staged)
            finally:
                await self.claims.release(staged.table)


async def _sweep(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Drop the staging tables of loads that are gone; a failure is logged and the load
    goes on (its writes meet an unavailable database with their own retries)."""
    try:
        await drop_orphaned_staging_tables(engine_of(sessions))
    except DATABASE_ERRORS:
        log.warning("could not look for orphaned staging tables", exc_info=True)


async def _begin(
    sessions: async_sessionmaker[AsyncSession], claims: StagingClaims, collection_id: str
) -> StagedPartition | None:
    """A staging table for the collection, when its partition is its own and empty."""
    table = None
    try:
        async with sessions() as session, session.begin():
            target = await _target(session, collection_id)
            if target is None:
                return None
            partition, suffix, literal, options = target
            table = await _claimed_name(claims, suffix)
            # The check lets the attach skip its scan of the rows: it implies the bound.
            await session.execute(text(
                f'CREATE TABLE "{table}" (LIKE "{partition}" INCLUDING DEFAULTS '
                "INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION, "
                "PRIMARY KEY (collection_id, id, datetime), "
                f"CONSTRAINT {CHECK} CHECK (collection_id = {literal}))"
            ))
            if options:
                await session.execute(
                    text(f'ALTER TABLE "{table}" SET ({", ".join(options)})')
                )
    except BaseException:
        if table:  # created or not, the next sweep may drop it
            await claims.release(table)
        raise
    return StagedPartition(collection_id, partition, suffix, table)


async def _target(
    session: AsyncSession, collection_id: str
) -> tuple[str, str, str, list[str] | None] | None:
    """The collection's partition, its suffix, the collection id as a SQL literal and
    the partition's storage options; None unless the partition is its own and empty."""
    if (await session.execute(text(
        "SELECT 1 FROM pg_extension WHERE extname = 'citus'"
    ))).scalar():
        return None  # distributed tables are not swapped like this
    partition, suffix, literal = (await session.execute(
        text(
            "SELECT stacql_item_partition_of(:c), stacql_item_partition_suffix(:c), "
            "quote_literal(CAST(:c AS text))"
        ),
        {"c": collection_id},
    )).one()
    if not partition.startswith("items_c_"):
        return None
    if (await session.execute(text(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = CAST(:p AS regclass)"
    ), {"p": partition})).scalar():
        return None  # split by time range: its sub-partitions are written as they are
    # Names from the catalog and from our own digest, not from a caller.
    if (await session.execute(text(f'SELECT 1 FROM "{partition}" LIMIT 1'))).scalar():
        return None
    options = (await session.execute(
        text("SELECT reloptions FROM pg_class WHERE oid = CAST(:p AS regclass)"),
        {"p": partition},
    )).scalar()
    return partition, suffix, literal, options


async def _claimed_name(claims: StagingClaims, suffix: str) -> str:
    """A new staging table name, locked before the table exists: a sweep never sees the
    table unlocked while its load lives."""
    for _ in range(_NAME_ATTEMPTS):
        table = f"{PREFIX}{suffix}_{secrets.token_hex(4)}"
        if await claims.claim(table):
            return table
    raise RuntimeError("no free lock for a staging table name")  # ~2^-32 per try


async def _drop(sessions: async_sessionmaker[AsyncSession], staged: StagedPartition) -> None:
    try:
        async with sessions() as session, session.begin():
            await session.execute(text(f'DROP TABLE IF EXISTS "{staged.table}"'))
    except Exception:  # the database may be what failed: the table stays behind
        log.exception("could not drop the staging table %s", staged.table)


async def _index_statements(
    session: AsyncSession, staged: StagedPartition
) -> tuple[list[str], dict[str, str]]:
    """The partition's indexes (primary key aside) as statements building them on the
    staging table, largest first; and the partition's name of each staging index."""
    rows = (await session.execute(
        text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisunique "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = CAST(:p AS regclass) AND NOT i.indisprimary "
            "ORDER BY pg_relation_size(i.indexrelid) DESC, c.relname"
        ),
        {"p": staged.partition},
    )).all()
    statements, names = [], {}
    for number, (name, definition, unique) in enumerate(rows):
        temporary = f"{staged.table}_{number}"
        kind = "UNIQUE INDEX" if unique else "INDEX"
        method = definition[definition.index(" USING "):]
        statements.append(f'CREATE {kind} "{temporary}" ON "{staged.table}"{method}')
        names[temporary] = name
    primary = (await session.execute(
        text(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = CAST(:p AS regclass) AND i.indisprimary"
        ),
        {"p": staged.partition},
    )).scalar_one()
    names[f"{staged.table}_pkey"] = primary
    # The primary key was kept up during the load (it finds the items a later batch
    # rewrites), filled in the file's key order: rebuilt, it is about 40 % smaller.
    statements.append(f'REINDEX INDEX "{staged.table}_pkey"')
    return statements, names


async def _build(
    sessions: async_sessionmaker[AsyncSession], statements: list[str], connections: int
) -> None:
    """Run the index builds, ``connections`` at once (each takes a SHARE lock on the
    staging table; they do not conflict)."""
    queue = list(reversed(statements))

    async def builder() -> None:
        async with sessions() as session:
            while queue:
                statement = queue.pop()  # before any await: the other builders share it
                # LOCAL: the setting ends with the build's transaction instead of staying
                # on a pooled connection.
                await session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
                await session.execute(text(statement))
                await session.commit()

    await asyncio.gather(*(builder() for _ in range(max(connections, 1))))


async def _foreign_keys(session: AsyncSession, staged: StagedPartition) -> None:
    """The foreign keys of ``items`` on the staging table, checked in one join (the
    attach then adopts them instead of checking them under its lock)."""
    keys = (await session.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'items'::regclass AND contype = 'f' AND conparentid = 0"
    ))).all()
    for number, (_, definition) in enumerate(keys):
        await session.execute(text(
            f'ALTER TABLE "{staged.table}" ADD CONSTRAINT "{staged.table}_fk{number}" '
            f"{definition}"
        ))


async def _finish(
    sessions: async_sessionmaker[AsyncSession], staged: StagedPartition, connections: int
) -> None:
    started = time.perf_counter()
    async with sessions() as session:
        statements, names = await _index_statements(session, staged)
    await _build(sessions, statements, connections)
    async with sessions() as session, session.begin():
        await _foreign_keys(session, staged)
    built = time.perf_counter()
    for attempt in range(SWAP_ATTEMPTS + 1):
        async with sessions() as session, session.begin():
            outcome = await _swap(
                await session.connection(), staged, names, wait=attempt < SWAP_ATTEMPTS
            )
        if outcome == "merge":
            await _merge(sessions, staged)
        if outcome == "done":
            # Building the indexes set the table's row count, which keeps the load's
            # closing ``analyze_new_partitions`` from taking it for a new partition.
            async with sessions() as session, session.begin():
                await session.execute(text(f'ANALYZE "{staged.partition}"'))
        if outcome != "retry":
            log.info(
                "staged items of %r: indexed in %.2f s, then %s in %.2f s",
                staged.collection_id, built - started, outcome, time.perf_counter() - built,
            )
            return
        await asyncio.sleep(min(2**attempt, 30) / 10)


async def _swap(
    conn: AsyncConnection, staged: StagedPartition, names: dict[str, str], wait: bool
) -> str:
    """Put the staging table in the partition's place: "done", "retry" (the lock was
    not had within the timeout), "merge" (the partition is no longer empty or no longer
    the collection's) or "gone" (the collection was deleted)."""
    found = await conn.execute(
        text("SELECT 1 FROM collections WHERE id = :c FOR KEY SHARE"),
        {"c": staged.collection_id},
    )
    if found.scalar() is None:
        await conn.exec_driver_sql(f'DROP TABLE "{staged.table}"')
        return "gone"
    if wait:
        if not await lock_items_exclusively(conn, staged.partition):
            return "retry"
    else:  # the last try waits as long as it takes
        await conn.exec_driver_sql(
            f'LOCK TABLE items, "{staged.partition}" IN ACCESS EXCLUSIVE MODE'
        )
    current = (await conn.execute(
        text("SELECT stacql_item_partition_of(:c)"), {"c": staged.collection_id}
    )).scalar()
    if current != staged.partition or (await conn.execute(
        text(f'SELECT 1 FROM "{staged.partition}" LIMIT 1')
    )).scalar():
        return "merge"
    # What the statement triggers of items would have done for the staged rows.
    await conn.execute(text(
        "INSERT INTO saved_search_changes (collection_id, item_id, changed_at) "
        f'SELECT collection_id, id, updated_at FROM "{staged.table}" '
        "WHERE EXISTS (SELECT 1 FROM saved_searches WHERE webhook_url IS NOT NULL)"
    ))
    await conn.execute(text("SELECT pg_notify('stacql_items', '')"))
    bound = (await conn.execute(
        text("SELECT format('FOR VALUES IN (%L)', CAST(:c AS text))"),
        {"c": staged.collection_id},
    )).scalar_one()
    await conn.exec_driver_sql(f'DROP TABLE "{staged.partition}"')
    await conn.exec_driver_sql(f'ALTER TABLE "{staged.table}" RENAME TO "{staged.partition}"')
    await conn.exec_driver_sql(
        f'ALTER TABLE items ATTACH PARTITION "{staged.partition}" {bound}'
    )
    await conn.exec_driver_sql(f'ALTER TABLE "{staged.partition}" DROP CONSTRAINT {CHECK}')
    for temporary, name in names.items():
        await conn.exec_driver_sql(f'ALTER INDEX "{temporary}" RENAME TO "{name}"')
    # Names any index the attach had to build, and the partition's extended statistics.
    await conn.execute(
        text("SELECT stacql_adopt_item_partition(CAST(:p AS regclass), :s)"),
        {"p": staged.partition, "s": staged.suffix},
    )
    return "done"


async def _merge(sessions: async_sessionmaker[AsyncSession], staged: StagedPartition) -> None:
    """Write the staged items into ``items`` as changed ones, then drop the table."""
    async with sessions() as session, session.begin():
        await merge_staged_rows(session, staged.table)
        await session.execute(text(f'DROP TABLE "{staged.table}"'))
