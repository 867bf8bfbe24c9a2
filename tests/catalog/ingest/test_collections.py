"""Collections: upsert outcomes, extents kept current, bad documents refused."""

from __future__ import annotations

import copy

import orjson
import pytest
import shapely
from sqlalchemy import text

from catalog.errors import (
    Conflict,
    InvalidBbox,
    InvalidDatetime,
    InvalidStac,
    UnknownCollection,
)
from catalog.ingest import create_collection, delete_collection, upsert_collection, upsert_items
from catalog.stac import normalize_items
from tests.support.paths import STAC_DATA

NAIP = STAC_DATA / "pgstac/planetary-computer/data/naip"


def naip_collection() -> dict:
    return orjson.loads((NAIP / "collection.json").read_bytes())


async def _upsert(sessions, doc):
    async with sessions() as session, session.begin():
        return await upsert_collection(session, doc)


async def test_upsert_reports_created_then_unchanged_then_updated(scratch_sessions) -> None:
    doc = naip_collection()
    outcomes = [await _upsert(scratch_sessions, doc), await _upsert(scratch_sessions, doc)]
    outcomes.append(await _upsert(scratch_sessions, {**doc, "title": "NAIP again"}))
    assert outcomes == ["created", "unchanged", "updated"]


async def test_create_refuses_an_existing_id(scratch_sessions) -> None:
    await _upsert(scratch_sessions, naip_collection())
    async with scratch_sessions() as session, session.begin():
        with pytest.raises(Conflict, match="naip"):
            await create_collection(session, naip_collection())


async def test_extent_widens_to_cover_items_outside_the_declared_one(scratch_sessions) -> None:
    doc = naip_collection()
    doc["extent"]["spatial"]["bbox"][0] = [-87.0, 30.5, -86.0, 30.6]
    doc["extent"]["temporal"]["interval"][0] = ["2015-01-01T00:00:00Z", "2016-01-01T00:00:00Z"]
    await _upsert(scratch_sessions, doc)
    items = [orjson.loads(line) for line in (NAIP / "items.ndjson").read_bytes().splitlines()]
    async with scratch_sessions() as session, session.begin():
        await upsert_items(session, normalize_items(items))
    async with scratch_sessions() as session:
        extent = await session.scalar(text("SELECT content->'extent' FROM collections"))
    box = shapely.box(*extent["spatial"]["bbox"][0])
    footprints = shapely.union_all([shapely.geometry.shape(i["geometry"]) for i in items])
    start, end = extent["temporal"]["interval"][0]
    datetimes = sorted(i["properties"]["datetime"] for i in items)
    assert box.covers(footprints)
    assert start[:19] == datetimes[0][:19] and end[:19] == datetimes[-1][:19]


async def test_deleting_a_collection_deletes_its_items(scratch_sessions) -> None:
    await _upsert(scratch_sessions, naip_collection())
    line = (NAIP / "items.ndjson").read_bytes().splitlines()[0]
    async with scratch_sessions() as session, session.begin():
        await upsert_items(session, normalize_items([orjson.loads(line)]))
        await delete_collection(session, "naip")
    async with scratch_sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM items")) == 0


async def test_deleting_an_unknown_collection_is_not_found(scratch_sessions) -> None:
    async with scratch_sessions() as session, session.begin():
        with pytest.raises(UnknownCollection):
            await delete_collection(session, "nope")


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda d: d.pop("extent"), InvalidStac, "extent"),
        (lambda d: d.pop("description"), InvalidStac, "description"),
        (lambda d: d.update(type="Catalog"), InvalidStac, "type"),
        (lambda d: d["extent"]["spatial"].update(bbox=[[0, 10, 1, 5]]), InvalidBbox, "south"),
        (
            lambda d: d["extent"]["temporal"].update(interval=[["2020", None]]),
            InvalidDatetime,
            "RFC 3339",
        ),
        (lambda d: d.update(keywords="naip"), InvalidStac, "keywords"),
    ],
)
async def test_bad_collection_is_refused_and_nothing_written(
    scratch_sessions, mutate, error, message
) -> None:
    doc = copy.deepcopy(naip_collection())
    mutate(doc)
    with pytest.raises(error, match=message):
        await _upsert(scratch_sessions, doc)
    async with scratch_sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM collections")) == 0
