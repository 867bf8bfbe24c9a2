"""Item upserts on an empty catalog: idempotency, replacement, deletion, bad input."""

from __future__ import annotations

import copy

import orjson
import pytest
from sqlalchemy import text

from catalog.errors import (
    InvalidBbox,
    InvalidDatetime,
    InvalidGeometry,
    InvalidStac,
    ItemNotFound,
    UnknownCollection,
)
from catalog.ingest import delete_item, upsert_collection, upsert_items
from catalog.search.lookup import get_item
from catalog.stac import normalize_items
from tests.support.paths import STAC_DATA

JOPLIN = STAC_DATA / "stac-fastapi-pgstac/joplin"
GEOMETRY = STAC_DATA / "stac-server/geometry"


def joplin_items() -> list[dict]:
    return orjson.loads((JOPLIN / "index.geojson").read_bytes())["features"]


async def _counts(sessions) -> tuple[int, int]:
    async with sessions() as session:
        items = await session.scalar(text("SELECT count(*) FROM items"))
        assets = await session.scalar(text("SELECT count(*) FROM assets"))
    return items, assets


@pytest.fixture
async def joplin(scratch_sessions):
    async with scratch_sessions() as session, session.begin():
        await upsert_collection(session, orjson.loads((JOPLIN / "collection.json").read_bytes()))
    return scratch_sessions


async def _upsert(sessions, docs):
    async with sessions() as session, session.begin():
        return await upsert_items(session, normalize_items(docs))


async def test_second_load_of_the_same_items_changes_nothing(joplin) -> None:
    first = await _upsert(joplin, joplin_items())
    async with joplin() as session:
        stamps = (await session.execute(text("SELECT id, updated_at FROM items"))).all()
    second = await _upsert(joplin, joplin_items())
    async with joplin() as session:
        after = (await session.execute(text("SELECT id, updated_at FROM items"))).all()
    assert (first.inserted, second.inserted, second.updated, second.unchanged) == (30, 0, 0, 30)
    assert sorted(stamps) == sorted(after)


async def test_changed_item_replaces_properties_and_assets(joplin) -> None:
    docs = joplin_items()
    await _upsert(joplin, docs)
    changed = copy.deepcopy(docs[0])
    changed["properties"]["eo:cloud_cover"] = 42
    changed["assets"] = {"only": {"href": "https://example.com/only.tif", "roles": ["data"]}}
    summary = await _upsert(joplin, [changed])
    async with joplin() as session:
        keys = await session.scalars(
            text("SELECT key FROM assets WHERE item_id = :id"), {"id": changed["id"]}
        )
        cover = await session.scalar(
            text("SELECT properties->'eo:cloud_cover' FROM items WHERE id = :id"),
            {"id": changed["id"]},
        )
    assert (summary.updated, list(keys), cover) == (1, ["only"], 42)


async def test_repeated_id_in_one_batch_keeps_the_last(joplin) -> None:
    first, second = copy.deepcopy(joplin_items()[:1] * 2)
    second["properties"]["marker"] = "last"
    summary = await _upsert(joplin, [first, second])
    async with joplin() as session:
        marker = await session.scalar(text("SELECT properties->>'marker' FROM items"))
    assert (summary.inserted, marker) == (1, "last")


async def test_item_of_unknown_collection_is_refused_and_nothing_written(joplin) -> None:
    docs = joplin_items()
    docs[5] = {**docs[5], "collection": "no-such-collection"}
    with pytest.raises(UnknownCollection, match="no-such-collection"):
        await _upsert(joplin, docs)
    assert await _counts(joplin) == (0, 0)


@pytest.mark.parametrize(
    ("fixture", "error"),
    [
        ("badGeoFourPoints.json", "Self-intersection"),
        ("badGeoRightHandRule2.json", "Self-intersection"),
        ("badGeoUnclosed.json", "not closed"),
        ("badGeoFourPointsMultiPolygon.json", "Self-intersection"),
    ],
)
async def test_invalid_geometry_in_a_batch_writes_nothing(joplin, fixture, error) -> None:
    docs = joplin_items()
    docs[3]["geometry"] = orjson.loads((GEOMETRY / fixture).read_bytes())
    with pytest.raises(InvalidGeometry, match=error):
        await _upsert(joplin, docs)
    assert await _counts(joplin) == (0, 0)


def test_geometry_nested_deeper_than_its_type_is_refused() -> None:
    doc = orjson.loads((STAC_DATA / "stac-server/stac/badGeometryItem.json").read_bytes())
    with pytest.raises(InvalidGeometry, match="badGeometryItem"):
        normalize_items([doc])


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"datetime": "2020-13-01T00:00:00Z"}, InvalidDatetime),
        ({"datetime": "2020-01-01"}, InvalidDatetime),
        ({"datetime": "yesterday"}, InvalidDatetime),
        ({"datetime": None}, InvalidDatetime),
        (
            {
                "datetime": None,
                "start_datetime": "2020-02-01T00:00:00Z",
                "end_datetime": "2020-01-01T00:00:00Z",
            },
            InvalidDatetime,
        ),
    ],
)
def test_bad_datetime_is_refused(change, error) -> None:
    doc = joplin_items()[0]
    doc["properties"].update(change)
    with pytest.raises(error, match=doc["id"]):
        normalize_items([doc])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "Collection"}, "'type' must be 'Feature'"),
        ({"id": ""}, "id"),
        ({"stac_version": "0.9.0"}, "stac_version"),
        ({"properties": []}, "properties"),
        ({"assets": {"x": {"title": "no href"}}}, "href"),
        ({"links": [{"rel": "self"}]}, "href"),
        ({"bbox": [1, 2, 3]}, "bbox"),
    ],
)
def test_malformed_item_is_refused(change, message) -> None:
    doc = {**joplin_items()[0], **change}
    with pytest.raises((InvalidStac, InvalidBbox), match=message):
        normalize_items([doc])


async def test_delete_item_removes_assets_and_shrinks_extent(joplin) -> None:
    docs = joplin_items()
    far = copy.deepcopy(docs[0])
    far["id"] = "far-away"
    far["geometry"] = {"type": "Point", "coordinates": [10.0, 10.0]}
    far["bbox"] = [10.0, 10.0, 10.0, 10.0]
    await _upsert(joplin, [*docs, far])
    async with joplin() as session, session.begin():
        await delete_item(session, "joplin", "far-away")
    async with joplin() as session:
        xmax = await session.scalar(
            text("SELECT ST_XMax(spatial_extent) FROM collections WHERE id = 'joplin'")
        )
        orphans = await session.scalar(
            text("SELECT count(*) FROM assets WHERE item_id = 'far-away'")
        )
    assert xmax < 0 and orphans == 0


async def test_deleting_a_missing_item_is_not_found(joplin) -> None:
    async with joplin() as session, session.begin():
        with pytest.raises(ItemNotFound, match="nope"):
            await delete_item(session, "joplin", "nope")


async def test_characters_copy_escapes_come_back_as_they_were(joplin) -> None:
    item = copy.deepcopy(joplin_items()[0])
    item["id"] = "back\\slash"
    item["properties"]["note"] = "tab\there, newline\nthere, back\\slash, quote\"d"
    item["assets"] = {
        "odd\\key": {
            "href": "https://example.com/a\tb\\c.tif",
            "title": "line\none",
            "description": "carriage\rreturn",
            "roles": ['quo"ted', "back\\slash", "tab\trole"],
            "note": "fields\\too\t",
        },
        "plain": {"href": "https://example.com/plain.tif"},
    }
    await _upsert(joplin, [item])
    async with joplin() as session:
        stored = await get_item(session, item["collection"], item["id"])
    assert stored["properties"] == item["properties"]
    assert stored["assets"] == item["assets"]
    again = await _upsert(joplin, [item])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
