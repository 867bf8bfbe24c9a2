"""Bulk loads that write several batches at once: the rows of a one-writer load, the
later occurrence of an item winning across batches in flight together, and writers of
several collections that never deadlock."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import text

from catalog.ingest import load_path
from tests.catalog.ingest.test_load_processes import NAIP, NAIP_LINES, _clear, _rows

COPY_ID = "naip-copy"
BATCH = 30


def _write_lines(path: Path, docs: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in docs))
    return path


def _versions_of(docs: list[dict], count: int) -> list[dict]:
    """``count`` versions of the first item, each with its own gsd."""
    return [
        {**docs[0], "properties": {**docs[0]["properties"], "gsd": 0.5 + version}}
        for version in range(count)
    ]


async def _load_collections(sessions, *collections: dict, tmp_path: Path) -> None:
    for number, collection in enumerate(collections):
        target = tmp_path / f"collection-{number}.json"
        target.write_bytes(orjson.dumps(collection))
        report = await load_path(sessions, target)
        assert report.ok, report.errors


async def _extents(sessions) -> list:
    async with sessions() as session:
        return (await session.execute(text(
            "SELECT id, temporal_start, temporal_end, ST_AsText(spatial_extent), queryables "
            "FROM collections ORDER BY id"
        ))).all()


async def test_the_last_occurrence_of_an_item_wins_across_batches_in_flight(
    scratch_sessions, tmp_path
) -> None:
    docs = [orjson.loads(line) for line in NAIP_LINES[:BATCH + 1]]
    first, last = _versions_of(docs, 2)
    # The first batch is slow to write (every item carries a long array, which the GIN
    # index of properties takes element by element) and ends with an item the second
    # batch starts with: written at once, the second would store it first and the
    # first would then overwrite it with its older version.
    heavy = [
        {**doc, "properties": {**doc["properties"], "samples": list(range(20_000))}}
        for doc in docs[1:BATCH]
    ]
    source = _write_lines(tmp_path / "items.ndjson", [*heavy, first, last, docs[BATCH]])
    collection = orjson.loads((NAIP / "collection.json").read_bytes())
    await _load_collections(scratch_sessions, collection, tmp_path=tmp_path)

    report = await load_path(scratch_sessions, source, batch_size=BATCH, writers=2)

    assert report.ok, report.errors
    assert (report.items.inserted, report.items.updated) == (BATCH + 1, 1)
    async with scratch_sessions() as session:
        stored = (await session.execute(
            text("SELECT properties FROM items WHERE id = :id"), {"id": docs[0]["id"]}
        )).scalar_one()
    assert stored == last["properties"]


async def test_two_writers_store_what_one_writer_stores(scratch_sessions, tmp_path) -> None:
    collection = orjson.loads((NAIP / "collection.json").read_bytes())
    copy = {**collection, "id": COPY_ID}
    docs = [orjson.loads(line) for line in NAIP_LINES]
    # Items of two collections in every batch: the writers lock both collections' rows
    # at the end of each batch, in one order, or they would deadlock.
    mixed = [
        doc if number % 2 else {**doc, "collection": COPY_ID}
        for number, doc in enumerate(docs)
    ]
    source = _write_lines(tmp_path / "mixed.ndjson", mixed + _versions_of(docs, 3))

    await _load_collections(scratch_sessions, collection, copy, tmp_path=tmp_path)
    one = await load_path(scratch_sessions, source, batch_size=25, writers=1, processes=0)
    expected = await _rows(scratch_sessions), await _extents(scratch_sessions)
    await _clear(scratch_sessions)
    await _load_collections(scratch_sessions, collection, copy, tmp_path=tmp_path)
    two = await load_path(scratch_sessions, source, batch_size=25, writers=2, processes=2)

    assert one.ok and two.ok, (one.errors, two.errors)
    assert two.items == one.items
    assert (await _rows(scratch_sessions), await _extents(scratch_sessions)) == expected
