"""Time windows bounded by the reach of the items' time ranges (migration 0022): the
recorded reach follows the items written, every window finds what a plain reading of
the items finds, and a collection split by month plans only the window's months."""

from __future__ import annotations

import importlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely
from alembic import command
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.db.migrate import alembic_config, upgrade
from catalog.db.partitions import split_collection
from catalog.ingest import upsert_items
from catalog.search import build_search, search
from catalog.search.engine import page_statement
from catalog.search.fields import items
from catalog.search.time_spans import time_spans
from catalog.stac import normalize_items
from tests.support.databases import create_migrated_database, drop_database
from tests.support.loading import catalog_with_items

SPANS = importlib.import_module("catalog.db.migrations.versions.0022_item_time_spans")
YEAR = datetime(2021, 1, 1, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _item(collection: str, n: int, at: datetime, before: timedelta, after: timedelta) -> dict:
    properties: dict[str, Any] = {"datetime": _stamp(at)}
    if before or after:
        properties["start_datetime"] = _stamp(at - before)
        properties["end_datetime"] = _stamp(at + after)
    x, y = n % 20, n // 20 % 10
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"{collection}-{n:03d}",
        "collection": collection, "stac_extensions": [],
        "geometry": {"type": "Point", "coordinates": [x, y]}, "bbox": [x, y, x, y],
        "properties": properties, "links": [], "assets": {},
    }


def _generated() -> list[dict]:
    """Instants over 2021, and items whose ranges reach up to 40 days before and 9
    after their datetime (some only one way)."""
    rng = random.Random(22)
    made = []
    for n in range(150):
        made.append(_item("instants", n, YEAR + timedelta(hours=rng.randrange(365 * 24)),
                          timedelta(0), timedelta(0)))
    for n in range(150):
        before = timedelta(hours=rng.choice([0, 0, rng.randrange(1, 40 * 24)]))
        after = timedelta(hours=rng.choice([0, rng.randrange(1, 9 * 24)]))
        made.append(_item("ranges", n, YEAR + timedelta(hours=rng.randrange(365 * 24)),
                          before, after))
    return made


def _times(doc: dict) -> tuple[datetime, datetime, datetime]:
    p = doc["properties"]
    at = datetime.fromisoformat(p["datetime"])
    return (datetime.fromisoformat(p.get("start_datetime", p["datetime"])), at,
            datetime.fromisoformat(p.get("end_datetime", p["datetime"])))


def _reach(docs: list[dict], collection: str) -> tuple[timedelta, timedelta]:
    spans = [_times(d) for d in docs if d["collection"] == collection]
    return (max(at - start for start, at, _ in spans), max(end - at for _, at, end in spans))


@pytest.fixture
async def catalog() -> AsyncIterator[tuple[str, AsyncEngine, list[dict]]]:
    url = create_migrated_database("time_spans")
    engine = create_engine(url, pool_size=3)
    docs = _generated()
    async with create_sessionmaker(engine)() as session, session.begin():
        await catalog_with_items(session, docs, ("instants", "ranges"))
    yield url, engine, docs
    await engine.dispose()
    drop_database(url)


async def _recorded(engine: AsyncEngine) -> dict[str, tuple[timedelta, timedelta]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT id, item_time_lead, item_time_lag FROM collections ORDER BY id"))
        return {row[0]: (row[1], row[2]) for row in rows}


async def test_the_recorded_reach_follows_the_items(
    catalog: tuple[str, AsyncEngine, list[dict]],
) -> None:
    url, engine, docs = catalog
    expected = {c: _reach(docs, c) for c in ("instants", "ranges")}
    assert expected["instants"] == (timedelta(0), timedelta(0))
    assert await _recorded(engine) == expected
    # A longer range widens it; the migration done again reads the same from the items.
    longer = _item("instants", 999, YEAR + timedelta(days=100), timedelta(days=3),
                   timedelta(hours=5))
    async with create_sessionmaker(engine)() as session, session.begin():
        await upsert_items(session, normalize_items([longer]))
    expected["instants"] = (timedelta(days=3), timedelta(hours=5))
    assert await _recorded(engine) == expected
    await engine.dispose()
    command.downgrade(alembic_config(url), SPANS.down_revision)
    upgrade(url)
    assert await _recorded(engine) == expected


def _windows() -> list[str]:
    rng = random.Random(5)
    windows = ["2021-03-01T00:00:00Z/2021-03-20T00:00:00Z", "../2021-02-01T00:00:00Z",
               "2021-11-15T00:00:00Z/..", "2021-06-10T12:00:00Z"]
    for _ in range(12):
        start = YEAR + timedelta(hours=rng.randrange(365 * 24))
        length = timedelta(hours=rng.choice([1, 30, 24 * 20, 24 * 90]))
        windows.append(f"{_stamp(start)}/{_stamp(start + length)}")
    return windows


def _reference(docs: list[dict], window: str, collections: list[str] | None,
               bbox: list[float] | None, newest_first: bool) -> list[tuple[str, str]]:
    """What a plain reading of the items finds, in the search's order."""
    low_text, _, high_text = window.partition("/")
    low = None if low_text == ".." else datetime.fromisoformat(low_text)
    high = None if high_text == ".." else datetime.fromisoformat(high_text or low_text)
    area = shapely.box(*bbox) if bbox else None
    found = []
    for doc in docs:
        start, at, end = _times(doc)
        if collections is not None and doc["collection"] not in collections:
            continue
        if (high is not None and start > high) or (low is not None and end < low):
            continue
        if area is not None and not area.intersects(shape(doc["geometry"])):
            continue
        found.append((at, doc["collection"], doc["id"]))
    found.sort(reverse=newest_first)
    return [(collection, item_id) for _, collection, item_id in found]


async def _all_pages(sessions: async_sessionmaker[AsyncSession], **params: Any) -> list:
    keys, token = [], None
    async with sessions() as session:
        while True:
            page = await search(session, build_search(limit=9, token=token, **params))
            keys += [(doc["collection"], doc["id"]) for doc in page.items]
            token = page.next_token
            if token is None:
                return keys


@pytest.mark.parametrize("collections", [None, ["ranges"], ["instants"]])
async def test_every_window_finds_what_the_items_hold(
    catalog: tuple[str, AsyncEngine, list[dict]], collections: list[str] | None,
) -> None:
    _, engine, docs = catalog
    sessions = create_sessionmaker(engine)
    for window in _windows():
        for bbox, sortby, newest_first in (
            (None, None, True), (None, "datetime", False), ([2, 1, 9, 6], None, True),
        ):
            found = await _all_pages(
                sessions, datetime=window, collections=collections, bbox=bbox, sortby=sortby)
            expected = _reference(docs, window, collections, bbox, newest_first)
            assert found == expected, (window, bbox, sortby)


async def test_a_split_collection_plans_only_the_months_of_the_window(
    catalog: tuple[str, AsyncEngine, list[dict]],
) -> None:
    _, engine, docs = catalog
    await split_collection(engine, "instants", "month")
    request = build_search(collections=["instants"],
                           datetime="2021-03-05T00:00:00Z/2021-04-10T00:00:00Z")
    async with create_sessionmaker(engine)() as session:
        spans = await time_spans(session, request.collections)
        query = page_statement(request, [items.c.id], spans)
        sql = str(query.compile(dialect=postgresql.dialect(),
                                compile_kwargs={"literal_binds": True}))
        plan = "\n".join(row[0] for row in await session.execute(text(f"EXPLAIN {sql}")))
    months = {word[-7:] for word in plan.split() if word[-8:-6] == "_m"}
    assert months == {"m202103", "m202104"}, plan
    found = await _all_pages(create_sessionmaker(engine), collections=["instants"],
                             datetime="2021-03-05T00:00:00Z/2021-04-10T00:00:00Z")
    assert found == _reference(docs, "2021-03-05T00:00:00Z/2021-04-10T00:00:00Z",
                               ["instants"], None, True)
