"""Which bulk-load staging tables a live load still uses, and dropping the others.

A staged load (``catalog.ingest.staging``) writes into a committed table named
``stacql_load_<partition suffix>_<8 hex>``, over many transactions and connections. A load
that fails drops it; a loader killed outright (SIGKILL, a crash of its machine, its
connection lost while that drop also fails) leaves it behind, holding disk.

A load marks each of its staging tables in use with a session-level advisory lock, keyed
by the table's name, on one connection of its own held from before the table is created
until after it is dropped or swapped in (:class:`StagingClaims`). The lock lives exactly
as long as the loader's session: PostgreSQL releases it when the session ends, however it
ends (the process killed, the connection cut; a machine gone without closing its
connections, once the server's TCP keepalives notice), and nothing else releases it.
Recording the owner's pid and backend start in a comment or a table would need the same
dedicated connection to mean anything (the load's pooled connections come and go), plus
a check against ``pg_stat_activity`` that races with the owner's exit; a lock is tested
and taken in one atomic step. A load that survives a reconnection (its writes are
retried while the database is unavailable) takes its locks again on a new connection.

:func:`drop_orphaned_staging_tables` drops each table of that exact name and shape (an
ordinary table, not a partition, with the staging table's check constraint) whose lock it
can take, holding the lock (transaction-scoped) while it drops: a live load's table is
never dropped, and a load taking its lock meanwhile finds the table already gone.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from catalog.db.errors import DATABASE_ERRORS
from catalog.errors import Conflict

log = logging.getLogger(__name__)
PREFIX = "stacql_load_"
# The exact name `staging._begin` gives: the partition suffix (16 hex digits of md5,
# `stacql_item_partition_suffix`) and 8 random hex digits.
NAME = re.compile(r"^stacql_load_[0-9a-f]{16}_[0-9a-f]{8}$")
# The check constraint every staging table has (`staging._begin`) and a partition loses.
CHECK = "stacql_load_collection"
# Advisory locks of staging tables are (LOCK_CLASS, hashtext(name)): the two-integer key
# space, apart from the one-bigint keys the rest of stacql locks ("stld" in ASCII).
LOCK_CLASS = 1_937_009_764
_LOCK_KEY = f"{LOCK_CLASS}, hashtext(CAST(:t AS text))"
# How long a sweep waits for the locks of a drop before passing over the table. A table
# left while its indexes were built has the foreign key to collections, and dropping it
# takes collections exclusively too (its triggers are there), as the swap takes items:
# queries of collections queue behind the drop for at most this long.
DROP_LOCK_TIMEOUT = "2s"

# How many of the claimed tables' locks this session does not hold.
_MISSING_LOCKS = f"""
SELECT count(*) FROM unnest(CAST(:tables AS text[])) AS t(name)
WHERE NOT EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.granted
      AND l.classid = {LOCK_CLASS} AND l.objid = CAST(hashtext(t.name) AS oid)
      AND l.objsubid = 2
)
"""
# Each table's name, then its quoted schema-qualified name (what is dropped).
_ORPHAN_CANDIDATES = f"""
SELECT c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND NOT c.relispartition
  AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'items'::regclass)
  AND c.relname ~ '{NAME.pattern}'
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid)
  AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.conname = '{CHECK}')
"""


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine ``sessions`` are bound to."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("staged loads need sessions bound to one AsyncEngine")
    return bind


class StagingClaims:
    """The advisory locks of one load's staging tables, on a connection of their own.

    The connection is opened for the first claim and closed once the last claim is
    released; it runs in autocommit, so it holds no transaction open while the load runs.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.tables: set[str] = set()
        self._conn: AsyncConnection | None = None

    async def claim(self, table: str) -> bool:
        """Lock ``table``'s name before the table is created; False when the lock is
        held elsewhere (another name, same hash: pick another name)."""
        try:
            locked = (await (await self._connection()).execute(
                text(f"SELECT pg_try_advisory_lock({_LOCK_KEY})"), {"t": table}
            )).scalar()
        except DATABASE_ERRORS:
            await self._discard()  # not reused: it may have reconnected without the locks
            raise
        if locked:
            self.tables.add(table)
        return bool(locked)

    async def release(self, table: str) -> None:
        """Unlock ``table`` (dropped or swapped in); the last release closes the
        connection. Never raises: a connection that cannot unlock is discarded, which
        ends its session and so its locks."""
        self.tables.discard(table)
        if self._conn is None:
            return
        try:
            await self._conn.execute(
                text(f"SELECT pg_advisory_unlock({_LOCK_KEY})"), {"t": table}
            )
        except DATABASE_ERRORS:
            log.warning("could not unlock staging table %s; closing its connection", table)
            await self._discard()
            return
        if not self.tables:
            await self._conn.close()
            self._conn = None

    async def keep(self) -> None:
        """Check this session still holds every claimed table's lock, and take them again
        on a new connection if not (the database restarted: the load retries its writes
        and goes on, so its tables must stay claimed).

        Raises ``Conflict`` when a table was dropped while unclaimed, and the driver's
        error when the database cannot be reached.
        """
        if not self.tables:
            return
        try:
            missing = (await (await self._connection()).execute(
                text(_MISSING_LOCKS), {"tables": sorted(self.tables)}
            )).scalar()
        except DATABASE_ERRORS:
            missing = None
        if missing != 0:
            # A fresh connection: one that reconnected by itself has a new session.
            await self._discard()
            await self._reclaim()

    async def _reclaim(self) -> None:
        log.warning("lost the connection locking staging tables %s; locking them again",
                    sorted(self.tables))
        conn = await self._connection()
        for table in sorted(self.tables):
            # Waits while a sweep holds it: a sweep holds it only while it drops.
            await conn.execute(text(f"SELECT pg_advisory_lock({_LOCK_KEY})"), {"t": table})
            found = (await conn.execute(
                text("SELECT to_regclass(quote_ident(CAST(:t AS text)))"), {"t": table}
            )).scalar()
            if found is None:
                raise Conflict(
                    f"the staging table {table} was dropped while its load could not "
                    "reach the database; load the collection again"
                )

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self.engine.connect()
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.invalidate()
            await conn.close()


async def drop_orphaned_staging_tables(
    engine: AsyncEngine, *, dry_run: bool = False
) -> list[str]:
    """Drop the staging tables of loads that are gone; returns their names, sorted.

    Only tables named ``stacql_load_<16 hex>_<8 hex>``, beside ``items``, ordinary (not
    partitions), with the staging check constraint, and whose load's advisory lock is
    free. A table whose lock does not come within ``DROP_LOCK_TIMEOUT`` (another session
    reads it) is passed over until the next sweep. ``dry_run`` lists them and drops none.
    """
    async with engine.connect() as conn:
        candidates = (await conn.execute(
            text(_ORPHAN_CANDIDATES + " ORDER BY c.relname")
        )).scalars().all()  # the names
    dropped = []
    for table in candidates:
        async with engine.begin() as conn:
            if await _drop_orphan(conn, table, dry_run):
                dropped.append(table)
    return dropped


async def _drop_orphan(conn: AsyncConnection, table: str, dry_run: bool) -> bool:
    owned = (await conn.execute(
        text(f"SELECT NOT pg_try_advisory_xact_lock({_LOCK_KEY})"), {"t": table}
    )).scalar()
    if owned:
        return False
    # Under the lock: still there and still not a partition (a load may have swapped it
    # in, under the partition's name, between the listing and the lock).
    row = (await conn.execute(
        text(_ORPHAN_CANDIDATES + " AND c.relname = :t"), {"t": table}
    )).one_or_none()
    if row is None:
        return False
    if dry_run:
        return True
    await conn.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
    try:
        async with conn.begin_nested():
            await conn.exec_driver_sql(f"DROP TABLE {row[1]}")
    except DBAPIError as exc:
        log.warning("could not drop the orphaned staging table %s: %s", table, exc.orig)
        return False
    log.info("dropped the orphaned staging table %s (its load is gone)", table)
    return True
