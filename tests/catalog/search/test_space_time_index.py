"""Spatial searches ordered by time are read from the space-time GiST index (migrations
0017, 0023: a time bucket, the geometry, the datetime) and return exactly the reference's
pages: many equal datetimes, the same ids in two collections, both directions, every page
forward and back."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.ingest import load_path
from catalog.search import build_search, search
from catalog.search.engine import page_statement
from catalog.search.render import item_text_parts
from tests.support.documents import world_collection
from tests.support.reference import Key, Reference, RefItem

COLLECTIONS = ("east", "west")
# Few distinct times: pages end inside runs of equal datetimes.
TIMES = [f"2024-0{1 + m % 9}-{1 + d:02d}T10:00:00Z" for m in range(3) for d in range(10)]


def _square(rng: random.Random) -> dict[str, Any]:
    x, y = rng.uniform(-10, 10), rng.uniform(-10, 10)
    half = rng.uniform(0.05, 0.5)
    ring = [
        [x - half, y - half],
        [x + half, y - half],
        [x + half, y + half],
        [x - half, y + half],
        [x - half, y - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _items(rng: random.Random) -> list[dict[str, Any]]:
    docs = []
    for collection in COLLECTIONS:
        for n in range(1500):
            geometry = _square(rng)
            xs = [p[0] for p in geometry["coordinates"][0]]
            ys = [p[1] for p in geometry["coordinates"][0]]
            docs.append(
                {
                    "type": "Feature",
                    "stac_version": "1.1.0",
                    "id": f"item-{n:04d}",
                    "collection": collection,
                    "geometry": geometry,
                    "bbox": [min(xs), min(ys), max(xs), max(ys)],
                    "links": [],
                    "assets": {},
                    "properties": {"datetime": rng.choice(TIMES)},
                }
            )
    return docs


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Reference]:
    rng = random.Random(17)
    folder = tmp_path_factory.mktemp("space-time")
    paths = []
    for collection in COLLECTIONS:
        path = folder / f"{collection}.json"
        path.write_text(json.dumps(world_collection(collection)))
        paths.append(path)
    docs = _items(rng)
    items = folder / "items.ndjson"
    items.write_text("\n".join(json.dumps(doc) for doc in docs))
    paths.append(items)
    return paths, Reference(tuple(RefItem.from_doc(doc) for doc in docs))


@pytest.fixture
async def space_time(
    scratch_sessions: async_sessionmaker[AsyncSession],
    generated: tuple[list[Path], Reference],
) -> async_sessionmaker[AsyncSession]:
    for path in generated[0]:
        report = await load_path(scratch_sessions, path)
        assert report.ok, report.errors
    async with scratch_sessions() as session:
        await session.execute(text("ANALYZE items"))
        await session.commit()
    return scratch_sessions


def _areas(rng: random.Random) -> list[dict[str, Any]]:
    areas: list[dict[str, Any]] = []
    for _ in range(12):
        x, y, half = rng.uniform(-10, 10), rng.uniform(-10, 10), rng.uniform(0.2, 3)
        areas.append({"bbox": [x - half, y - half, x + half, y + half]})
    for _ in range(6):
        x, y = rng.uniform(-8, 8), rng.uniform(-8, 8)
        ring = [[x, y - 2], [x + 2, y], [x + 0.3, y + 0.2], [x, y + 2], [x - 1.5, y], [x, y - 2]]
        areas.append({"intersects": {"type": "Polygon", "coordinates": [ring]}})
    areas.append({"bbox": [-180, -90, 180, 90]})
    areas.append({"bbox": [50, 50, 51, 51]})  # matches nothing
    return areas


async def _walk(
    sessions: async_sessionmaker[AsyncSession], params: dict[str, Any], limit: int
) -> tuple[list[Key], list[Key]]:
    """Every page forward, then back from the last one with the previous tokens."""
    forward: list[list[Key]] = []
    token = None
    async with sessions() as session:
        while True:
            page = await search(session, build_search(**params, limit=limit, token=token))
            forward.append([(doc["collection"], doc["id"]) for doc in page.items])
            if page.next_token is None:
                break
            token = page.next_token
        backward: list[list[Key]] = [forward[-1]]
        token = page.prev_token
        while token is not None:
            page = await search(session, build_search(**params, limit=limit, token=token))
            backward.insert(0, [(doc["collection"], doc["id"]) for doc in page.items])
            token = page.prev_token
    return [k for p in forward for k in p], [k for p in backward for k in p]


@pytest.mark.parametrize("sortby", [None, "datetime", "-datetime,id"])
async def test_pages_equal_the_reference(
    space_time: async_sessionmaker[AsyncSession],
    generated: tuple[list[Path], Reference],
    sortby: str | None,
) -> None:
    reference = generated[1]
    rng = random.Random(5)
    for area in _areas(rng):
        params = {**area, **({"sortby": sortby} if sortby else {})}
        expected = reference.search(**params)
        forward, backward = await _walk(space_time, params, rng.choice([7, 25]))
        assert forward == expected, params
        assert backward == expected, params


def _ordered_index_scans(node: dict[str, Any]) -> set[str]:
    """Indexes the plan scans in the order of a distance (KNN: ``Order By``), by the
    name of the partitioned index (a partition's is ``<name>__<partition>``)."""
    found = {node["Index Name"].split("__")[0]} if "Order By" in node else set()
    for child in node.get("Plans", []):
        found |= _ordered_index_scans(child)
    return found


async def test_an_area_newest_first_is_read_from_the_space_time_index(
    space_time: async_sessionmaker[AsyncSession],
) -> None:
    request = build_search(bbox=[-3, -3, 3, 3], limit=10)
    sql = page_statement(request, item_text_parts()).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    async with space_time() as session:
        plan = (await session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
    assert _ordered_index_scans(plan[0]["Plan"]) == {"items_time_bucket_gist"}
