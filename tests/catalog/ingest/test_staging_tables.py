"""Staging tables left by loaders killed outright are dropped by the next load or by
``stacql db clean-staging`` (``catalog.ingest.staging_tables``); the table of a load still
running, and tables that only look like staging tables, are kept."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from sqlalchemy import text

from catalog.db import create_engine
from catalog.ingest import load_path
from catalog.ingest.staging import Staging
from catalog.ingest.staging_tables import LOCK_CLASS, drop_orphaned_staging_tables, engine_of
from tests.catalog.ingest.test_load_processes import NAIP
from tests.faults.test_database_outage import set_outage
from tests.support.paths import REPO

BATCH = 200
OUTAGE_BATCH = 100
NAIP_SUFFIX = "3f41deecf775bd67"  # stacql_item_partition_suffix('naip'), checked below
# What a loader killed outright leaves: stages its first batch, then dies (SIGKILL).
KILLED_LOADER = """
import asyncio, os, signal, sys
from pathlib import Path
from catalog.db import create_engine, create_sessionmaker
from catalog.ingest import load_path

def progress(_, count):
    os.kill(os.getpid(), signal.SIGKILL)

async def main():
    sessions = create_sessionmaker(create_engine(sys.argv[1], pool_size=2))
    await load_path(sessions, Path(sys.argv[2]), batch_size=200, stage_min_items=200,
                    writers=1, progress=progress)

asyncio.run(main())
"""


def _conninfo(sessions) -> str:
    url = engine_of(sessions).url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _tables(sessions) -> list[str]:
    with psycopg.connect(_conninfo(sessions)) as conn:
        return [name for (name,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'stacql_load%' AND relkind = 'r' "
            "ORDER BY relname"
        )]


def _orphan(sessions, name: str, lock: bool = True, key: bool = False) -> None:
    """A staging table as a loader creates one (locked, then created), left behind by a
    connection that closes without dropping it; ``key``: with the foreign key the load
    adds once the table is indexed."""
    with psycopg.connect(_conninfo(sessions), autocommit=True) as conn:
        if lock:
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, name))
        conn.execute(
            f'CREATE TABLE "{name}" (collection_id text, id text, '
            "CONSTRAINT stacql_load_collection CHECK (collection_id = 'naip')"
            f"{', FOREIGN KEY (collection_id) REFERENCES collections' if key else ''})"
        )


def _no_staging_locks(sessions) -> bool:
    with psycopg.connect(_conninfo(sessions)) as conn:
        return not conn.execute(
            "SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.classid = %s "
            "AND d.datname = current_database()",
            (LOCK_CLASS,),
        ).fetchone()


def _clean_staging(sessions, *options: str) -> subprocess.CompletedProcess[str]:
    url = engine_of(sessions).url.render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, "-m", "stacql.cli", "db", "clean-staging", *options],
        check=True, capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "STACQL_DATABASE_URL": url},
    )


@pytest.fixture
async def naip(scratch_sessions) -> AsyncIterator[None]:
    """The naip collection, its partition empty; no staging table before or after."""
    assert (await load_path(scratch_sessions, NAIP / "collection.json")).ok
    async with scratch_sessions() as session:
        suffix = (await session.execute(
            text("SELECT stacql_item_partition_suffix('naip')")
        )).scalar()
    assert suffix == NAIP_SUFFIX
    assert _tables(scratch_sessions) == []
    yield
    with psycopg.connect(_conninfo(scratch_sessions), autocommit=True) as conn:
        for name in _tables(scratch_sessions):
            conn.execute(f'DROP TABLE "{name}" CASCADE')


@pytest.fixture
def lookalikes(scratch_sessions) -> Iterator[list[str]]:
    """Tables that look like staging tables but are not: another name, no staging check,
    another schema, a partition of items; all kept."""
    name = f"stacql_load_{NAIP_SUFFIX}_0000beef"
    made = [
        "stacql_load_notes", f"stacql_load_{NAIP_SUFFIX}_0000cafe",
        f"other.{name}", f"stacql_load_{NAIP_SUFFIX}_0000face",
    ]
    check = "CONSTRAINT stacql_load_collection CHECK (collection_id = 'x')"
    with psycopg.connect(_conninfo(scratch_sessions), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE stacql_load_notes (collection_id text, {check})")
        conn.execute(f'CREATE TABLE "{made[1]}" (collection_id text)')
        conn.execute("CREATE SCHEMA other")
        conn.execute(f'CREATE TABLE other."{name}" (collection_id text, {check})')
        conn.execute(
            f'CREATE TABLE "{made[3]}" PARTITION OF items ({check}) FOR VALUES IN (\'x\')'
        )
    yield made
    with psycopg.connect(_conninfo(scratch_sessions), autocommit=True) as conn:
        conn.execute("DROP SCHEMA other CASCADE")
        for table in (made[0], made[1], made[3]):
            conn.execute(f'DROP TABLE "{table}"')


async def test_the_table_of_a_killed_loader_is_dropped(scratch_sessions, naip) -> None:
    url = engine_of(scratch_sessions).url.render_as_string(hide_password=False)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_LOADER, url, str(NAIP / "items.ndjson")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [table] = _tables(scratch_sessions)
    assert table.startswith(f"stacql_load_{NAIP_SUFFIX}_")
    await _until_no_staging_locks(scratch_sessions)  # the dead client's sessions end

    assert await drop_orphaned_staging_tables(engine_of(scratch_sessions)) == [table]
    assert _tables(scratch_sessions) == []


async def test_the_table_of_a_live_load_is_kept(scratch_sessions, naip) -> None:
    staging = Staging(scratch_sessions, min_items=1)
    await staging.decide("naip", 1)
    [table] = _tables(scratch_sessions)
    assert staging.table_of("naip") == table

    assert await drop_orphaned_staging_tables(engine_of(scratch_sessions)) == []
    assert _clean_staging(scratch_sessions).stdout == ""
    assert _tables(scratch_sessions) == [table]
    await staging.abandon()
    assert _tables(scratch_sessions) == []
    assert _no_staging_locks(scratch_sessions)  # its lock connection is closed


async def test_a_sweep_during_a_load_leaves_it_whole(scratch_sessions, naip) -> None:
    swept: list[str] = []

    def progress(_: str, count: int) -> None:  # between two batches of one writer
        if not swept:
            swept.append(_clean_staging(scratch_sessions).stdout)

    report = await load_path(
        scratch_sessions, NAIP / "items.ndjson", batch_size=BATCH, stage_min_items=BATCH,
        writers=1, progress=progress,
    )
    assert swept == [""]
    assert report.ok, report.errors
    async with scratch_sessions() as session:
        count = (await session.execute(text("SELECT count(*) FROM items"))).scalar()
    assert count == report.items.inserted > BATCH


def _terminate_lock_holder(sessions, table: str) -> None:
    """End the session holding ``table``'s lock, as a database restart would."""
    with psycopg.connect(_conninfo(sessions), autocommit=True) as conn:
        terminated = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = %s AND objid = CAST(hashtext(%s) AS oid)",
            (LOCK_CLASS, table),
        ).fetchall()
    assert terminated == [(True,)]


async def _until_no_staging_locks(sessions) -> None:
    for _ in range(100):  # the server ends the session
        if _no_staging_locks(sessions):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("a staging lock is still held")


async def test_a_load_whose_lock_connection_dropped_locks_again(
    scratch_sessions, naip
) -> None:
    staging = Staging(scratch_sessions, min_items=1)
    await staging.decide("naip", 1)
    [table] = _tables(scratch_sessions)
    _terminate_lock_holder(scratch_sessions, table)
    await _until_no_staging_locks(scratch_sessions)

    await staging.decide("naip", 1)  # its next batch
    assert await drop_orphaned_staging_tables(engine_of(scratch_sessions)) == []
    assert _tables(scratch_sessions) == [table]
    await staging.abandon()


async def test_a_load_goes_on_while_it_cannot_lock_again(scratch_sessions, naip) -> None:
    """The database unreachable when a batch checks the locks: the batch goes on (its
    write retries), and a later batch takes the locks again."""
    staging = Staging(scratch_sessions, min_items=1)
    await staging.decide("naip", 1)
    [table] = _tables(scratch_sessions)
    _terminate_lock_holder(scratch_sessions, table)
    await _until_no_staging_locks(scratch_sessions)
    reachable = staging.claims.engine
    unreachable = create_engine(reachable.url.set(host="127.0.0.1", port=1), pool_size=1)
    staging.claims.engine = unreachable
    try:
        await staging.decide("naip", 1)
    finally:
        staging.claims.engine = reachable
        await unreachable.dispose()
    assert _no_staging_locks(scratch_sessions)

    await staging.decide("naip", 1)
    assert not _no_staging_locks(scratch_sessions)
    assert await drop_orphaned_staging_tables(engine_of(scratch_sessions)) == []
    await staging.abandon()
    assert _tables(scratch_sessions) == []


async def test_a_load_through_a_database_outage_keeps_its_table(
    scratch_sessions, naip
) -> None:
    """The database cut after the second batch and back a second later: the load retries
    its writes, takes its lock again, and a sweep after that keeps its table."""
    url = engine_of(scratch_sessions).url.render_as_string(hide_password=False)
    written, swept = [0], []

    def progress(_: str, count: int) -> None:
        written[0] += count
        if written[0] == 2 * OUTAGE_BATCH:
            set_outage(url, down=True)
            threading.Timer(1.0, set_outage, (url, False)).start()
        if written[0] == 5 * OUTAGE_BATCH:
            swept.append(_clean_staging(scratch_sessions).stdout)

    try:
        report = await load_path(
            scratch_sessions, NAIP / "items.ndjson", batch_size=OUTAGE_BATCH,
            stage_min_items=OUTAGE_BATCH, writers=1, processes=0, progress=progress,
            retry_delays=[0.25] * 20,
        )
    finally:
        set_outage(url, down=False)
    assert swept == [""]
    assert report.ok and report.items.inserted == 1000, report.errors
    assert _tables(scratch_sessions) == []


async def test_lookalike_tables_are_kept(scratch_sessions, naip, lookalikes) -> None:
    orphan = f"stacql_load_{NAIP_SUFFIX}_12345678"
    _orphan(scratch_sessions, orphan)
    assert await drop_orphaned_staging_tables(engine_of(scratch_sessions)) == [orphan]
    with psycopg.connect(_conninfo(scratch_sessions)) as conn:
        for table in lookalikes:
            schema, _, name = table.rpartition(".")
            assert conn.execute(
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = %s AND n.nspname = %s", (name, schema or "public"),
            ).fetchone(), table


async def test_a_load_drops_orphans_as_it_starts(scratch_sessions, naip, tmp_path) -> None:
    orphan = f"stacql_load_{NAIP_SUFFIX}_87654321"
    _orphan(scratch_sessions, orphan)
    path = tmp_path / "one.ndjson"
    path.write_bytes((NAIP / "items.ndjson").read_bytes().splitlines()[0] + b"\n")
    assert (await load_path(scratch_sessions, path)).ok  # not staged: one item
    assert _tables(scratch_sessions) == []


async def test_clean_staging_prints_what_it_drops(scratch_sessions, naip) -> None:
    orphan = f"stacql_load_{NAIP_SUFFIX}_abcdef01"
    _orphan(scratch_sessions, orphan, lock=False, key=True)
    listed = _clean_staging(scratch_sessions, "--dry-run")
    assert listed.stdout.split() == ["would", "drop", orphan]
    assert _tables(scratch_sessions) == [orphan]
    dropped = _clean_staging(scratch_sessions)
    assert dropped.stdout.split() == ["dropped", orphan]
    assert "dropped 1 staging tables" in dropped.stderr
    assert _tables(scratch_sessions) == []
