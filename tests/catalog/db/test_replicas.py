"""Reads on a real hot standby (``pg_basebackup -R`` of the test server, started by the
tests on another port), writes on the primary, read-your-writes, and a lagging or lost
standby taken out of the rotation and put back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import ANONYMOUS, Principal
from catalog.db import (
    ReplicaSet,
    RoutedSessions,
    create_engine,
    create_sessionmaker,
    read_scope,
)
from catalog.db.replicas import is_write
from catalog.errors import ItemNotFound
from catalog.operations import CollectionOperations, ItemOperations
from tests.support.documents import world_collection
from tests.support.standby import Standby, eventually, point_item

ADMIN = Principal(scope="admin")


def _standby_url(standby: Standby, primary_url: str) -> str:
    return standby.url(primary_url.rsplit("/", 1)[1])


@pytest.fixture
async def replicas(standby: Standby, primary_url: str) -> AsyncIterator[ReplicaSet]:
    primary = create_engine(primary_url, pool_size=2)
    replica_set = ReplicaSet(
        primary,
        {"standby": create_engine(_standby_url(standby, primary_url), pool_size=2)},
        max_lag_seconds=1.5,
        check_seconds=0.2,
        check_timeout_seconds=1.0,
    )
    await replica_set.start()
    yield replica_set
    await replica_set.close()
    await primary.dispose()


def _operations(replicas: ReplicaSet) -> tuple[CollectionOperations, ItemOperations]:
    writes = create_sessionmaker(replicas.primary)
    reads = RoutedSessions(replicas)
    return CollectionOperations(writes, reads), ItemOperations(writes, None, reads)


async def _in_recovery(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        return bool((await session.execute(text("SELECT pg_is_in_recovery()"))).scalar())


async def _new_collection(replicas: ReplicaSet, collections: CollectionOperations) -> str:
    collection_id = f"c-{uuid.uuid4().hex[:8]}"
    with read_scope():
        await collections.create(ADMIN, world_collection(collection_id))

    async def on_standby() -> bool:
        return await _found(collections, collection_id)

    await eventually(on_standby)
    return collection_id


async def _found(collections: CollectionOperations, collection_id: str) -> bool:
    try:
        await collections.get(ANONYMOUS, collection_id)
    except Exception:
        return False
    return True


async def test_reads_on_the_standby_writes_on_the_primary(replicas: ReplicaSet) -> None:
    collections, items = _operations(replicas)
    assert replicas.in_rotation() == ["standby"]
    assert await _in_recovery(RoutedSessions(replicas))
    assert not await _in_recovery(create_sessionmaker(replicas.primary))

    collection_id = await _new_collection(replicas, collections)
    await items.create(ADMIN, collection_id, point_item(collection_id, "a"))
    before = replicas.reads["standby"]

    async def replicated() -> bool:
        try:
            return (await items.get(ANONYMOUS, collection_id, "a"))["id"] == "a"
        except ItemNotFound:
            return False

    await eventually(replicated)
    assert replicas.reads["standby"] > before


async def test_a_writer_reads_its_own_writes(
    replicas: ReplicaSet, standby_sql: Callable[[str], Awaitable[Any]]
) -> None:
    collections, items = _operations(replicas)
    collection_id = await _new_collection(replicas, collections)
    # The standby stays in rotation (its lag is under the bound) but replays nothing.
    replicas.max_lag_seconds = 600
    await standby_sql("SELECT pg_wal_replay_pause()")
    await eventually(lambda: standby_sql("SELECT pg_is_wal_replay_paused()"))

    # In the request that wrote: the read goes to the primary.
    with read_scope() as scope:
        await items.create(ADMIN, collection_id, point_item(collection_id, "mine"))
        assert scope.wrote
        on_primary = replicas.reads["primary"]
        assert (await items.get(ADMIN, collection_id, "mine"))["id"] == "mine"
        assert replicas.reads["primary"] == on_primary + 1
    wrote_at = time.time()

    await replicas.wait_checked()
    await replicas.wait_checked()
    assert replicas.in_rotation() == ["standby"]
    # The writer's next request, carrying its write time: still the primary.
    with read_scope(wrote_at):
        assert (await items.get(ADMIN, collection_id, "mine"))["id"] == "mine"
    # Anyone else reads the standby, which has not replayed the write.
    with read_scope(), pytest.raises(ItemNotFound):
        await items.get(ANONYMOUS, collection_id, "mine")

    await standby_sql("SELECT pg_wal_replay_resume()")

    # Once the standby has replayed past the write, the writer reads there too.
    async def writer_on_standby() -> bool:
        standby_sql = replicas.reads["standby"]
        with read_scope(wrote_at):
            assert (await items.get(ADMIN, collection_id, "mine"))["id"] == "mine"
        return replicas.reads["standby"] == standby_sql + 1

    await eventually(writer_on_standby)


async def test_a_lagging_standby_leaves_the_rotation(
    replicas: ReplicaSet, standby_sql: Callable[[str], Awaitable[Any]]
) -> None:
    collections, items = _operations(replicas)
    collection_id = await _new_collection(replicas, collections)
    await standby_sql("SELECT pg_wal_replay_pause()")
    await items.create(ADMIN, collection_id, point_item(collection_id, "late"))

    async def out() -> bool:
        return replicas.in_rotation() == []

    await eventually(out)
    standby = replicas.standbys[0]
    assert standby.reason.startswith("replay lag")
    assert standby.lag_seconds is not None and standby.lag_seconds > replicas.max_lag_seconds
    # Reads keep working, on the primary, and see the latest writes.
    assert not await _in_recovery(RoutedSessions(replicas))
    assert (await items.get(ANONYMOUS, collection_id, "late"))["id"] == "late"

    await standby_sql("SELECT pg_wal_replay_resume()")

    async def back() -> bool:
        return replicas.in_rotation() == ["standby"]

    await eventually(back)
    assert await _in_recovery(RoutedSessions(replicas))
    assert (await items.get(ANONYMOUS, collection_id, "late"))["id"] == "late"


async def test_a_lost_standby_leaves_the_rotation_and_comes_back(
    replicas: ReplicaSet, standby: Standby
) -> None:
    collections, items = _operations(replicas)
    collection_id = await _new_collection(replicas, collections)
    await items.create(ADMIN, collection_id, point_item(collection_id, "kept"))
    await asyncio.to_thread(standby.stop, "immediate")
    try:

        async def out() -> bool:
            return replicas.in_rotation() == []

        await eventually(out)
        assert replicas.standbys[0].reason.startswith(("unreachable", "connection lost"))
        for _ in range(10):
            assert (await items.get(ANONYMOUS, collection_id, "kept"))["id"] == "kept"
        assert not await _in_recovery(RoutedSessions(replicas))
    finally:
        await asyncio.to_thread(standby.start)

    async def back() -> bool:
        return replicas.in_rotation() == ["standby"]

    await eventually(back, seconds=60)
    assert await _in_recovery(RoutedSessions(replicas))


async def test_without_standbys_everything_is_on_the_primary(primary_url: str) -> None:
    primary = create_engine(primary_url, pool_size=1)
    replica_set = ReplicaSet(primary)
    try:
        assert not await _in_recovery(RoutedSessions(replica_set))
        assert replica_set.in_rotation() == []
    finally:
        await replica_set.close()
        await primary.dispose()


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("INSERT INTO items VALUES (1)", True),
        ("  update items SET x = 1", True),
        ("/* mark */ DELETE FROM items", True),
        ("WITH gone AS (DELETE FROM items RETURNING id) SELECT count(*) FROM gone", True),
        ("CREATE INDEX CONCURRENTLY x ON items (id)", True),
        ("SELECT * FROM items WHERE id = 'INSERT'", False),
        ("WITH a AS (SELECT 1) SELECT * FROM a", False),
        ("SELECT pg_is_in_recovery()", False),
    ],
)
def test_what_counts_as_a_write(statement: str, writes: bool) -> None:
    assert is_write(statement) is writes
