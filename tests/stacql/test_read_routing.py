"""The service with a real hot standby: a caller's writes are visible to its next
requests at once while the standby lags, other callers and searches read the standby,
and Redis carries the caller's write time between requests."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from starlette.datastructures import Headers

from catalog.db import create_engine, create_sessionmaker
from stacql.read_routing import caller_key
from stacql.settings import DatabaseSettings, RedisSettings, Settings
from tests.support.access import admin_key
from tests.support.app_client import app_client
from tests.support.documents import world_collection
from tests.support.standby import Standby, eventually, point_item

REDIS_URL = os.environ.get("STACQL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def test_writers_read_their_writes_others_read_the_standby(
    standby: Standby, primary_url: str, standby_sql: Callable[[str], Awaitable[object]]
) -> None:
    engine = create_engine(primary_url, pool_size=1)
    token = await admin_key(create_sessionmaker(engine))
    await engine.dispose()
    settings = Settings(
        database=DatabaseSettings(
            url=primary_url,
            replica_urls=[standby.url(primary_url.rsplit("/", 1)[1])],
            replica_max_lag_seconds=600,
            replica_check_seconds=0.2,
        ),
        redis=RedisSettings(url=REDIS_URL),
    )
    writer = {"X-API-Key": token}
    async with app_client(settings) as (app, client):
        replicas = app.state.replicas
        name = replicas.standbys[0].name
        response = await client.post("/collections", json=world_collection("rw"), headers=writer)
        assert response.status_code == 201, response.text

        async def collection_on_standby() -> bool:
            return (await client.get("/collections/rw")).status_code == 200

        await eventually(collection_on_standby)
        await standby_sql("SELECT pg_wal_replay_pause()")
        await eventually(lambda: standby_sql("SELECT pg_is_wal_replay_paused()"))

        item = point_item("rw", "x")
        response = await client.post("/collections/rw/items", json=item, headers=writer)
        assert response.status_code == 201, response.text
        # The writer's next requests see the item; the mark is in Redis, not in this process.
        for _ in range(3):
            response = await client.get("/collections/rw/items/x", headers=writer)
            assert response.status_code == 200, response.text
        redis = Redis.from_url(REDIS_URL)
        try:
            mark = await redis.get("stacql:wrote:" + caller_key(Headers({"x-api-key": token})))
        finally:
            await redis.aclose()
        assert mark is not None and float(mark) <= time.time()

        # Others read the paused standby, which has not replayed the item.
        standby_reads = replicas.reads[name]
        assert (await client.get("/collections/rw/items/x")).status_code == 404
        search = await client.post("/search", json={"collections": ["rw"]})
        assert search.status_code == 200 and search.json()["features"] == []
        assert replicas.reads[name] >= standby_reads + 2

        await standby_sql("SELECT pg_wal_replay_resume()")

        async def item_standby_sql() -> bool:
            return (await client.get("/collections/rw/items/x")).status_code == 200

        await eventually(item_standby_sql)
