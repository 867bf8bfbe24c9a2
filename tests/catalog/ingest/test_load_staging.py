"""Bulk loads into an empty collection staged in a table of their own, indexed once the
rows are in and swapped in for the partition (``catalog.ingest.staging``): the same
search results as a load row by row, every index valid and named as before, readers
never seeing a part of the items, and a failed load leaving the partition as it was."""

from __future__ import annotations

import asyncio

import orjson
import psycopg
import pytest
from sqlalchemy import text

from catalog.ingest import load_path
from catalog.search import build_search, search
from tests.catalog.ingest.test_load_processes import NAIP, NAIP_LINES, _clear, _rows

BATCH = 200
DOCS = [orjson.loads(line) for line in NAIP_LINES]

_PARTITION = """
SELECT c.oid FROM pg_class c WHERE c.relname = 'items_c_' || stacql_item_partition_suffix('naip')
"""
# Each index of the partition: its name, whether it is valid and ready, and the index of
# items it belongs to (None for one of the partition's own).
_INDEXES = """
SELECT c.relname, i.indisvalid AND i.indisready AS usable, p.relname AS parent
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid
LEFT JOIN pg_class p ON p.oid = inh.inhparent
WHERE i.indrelid = ('items_c_' || stacql_item_partition_suffix('naip'))::regclass
ORDER BY c.relname
"""


class Stopped(Exception):
    """What a caller's progress callback raises to stop a load."""


async def _scalar(sessions, sql: str):
    async with sessions() as session:
        return (await session.execute(text(sql))).scalar()


async def _indexes(sessions) -> list:
    async with sessions() as session:
        return (await session.execute(text(_INDEXES))).all()


async def _staging_tables(sessions) -> list:
    async with sessions() as session:
        return (await session.execute(text(
            "SELECT relname FROM pg_class WHERE relname LIKE 'stacql_load_%'"
        ))).scalars().all()


async def _collection(sessions) -> None:
    report = await load_path(sessions, NAIP / "collection.json")
    assert report.ok, report.errors


async def _searches(sessions) -> list[list[str]]:
    """The ids of a few searches by bbox, datetime and id, each of which matches."""
    requests = []
    for doc in DOCS[::97]:
        requests += [
            build_search(collections=["naip"], bbox=doc["bbox"], limit=100),
            build_search(
                collections=["naip"], datetime=doc["properties"]["datetime"], limit=100
            ),
            build_search(ids=[doc["id"], DOCS[-1]["id"]], limit=100),
            build_search(
                collections=["naip"], bbox=doc["bbox"],
                datetime=doc["properties"]["datetime"][:4] + "-01-01T00:00:00Z/..",
                limit=100,
            ),
        ]
    async with sessions() as session:
        found = [[item["id"] for item in (await search(session, r)).items] for r in requests]
    assert all(found), "every search matches its item"
    return found


async def test_a_staged_load_searches_as_a_row_by_row_one(scratch_sessions) -> None:
    await _collection(scratch_sessions)
    empty = await _indexes(scratch_sessions)
    partition = await _scalar(scratch_sessions, _PARTITION)
    staged = await load_path(
        scratch_sessions, NAIP / "items.ndjson", batch_size=BATCH, stage_min_items=BATCH
    )
    assert staged.ok and staged.items.inserted == len(DOCS)
    # The partition was replaced (a new table), with the same indexes, all usable.
    assert await _scalar(scratch_sessions, _PARTITION) != partition
    indexes = await _indexes(scratch_sessions)
    assert indexes == empty and all(usable for _, usable, _ in indexes)
    assert await _staging_tables(scratch_sessions) == []
    # The planner has the new partition's statistics.
    assert await _scalar(
        scratch_sessions,
        "SELECT count(*) FROM pg_statistic WHERE starelid = "
        "('items_c_' || stacql_item_partition_suffix('naip'))::regclass",
    )
    results, rows = await _searches(scratch_sessions), await _rows(scratch_sessions)

    await _clear(scratch_sessions)
    await _collection(scratch_sessions)
    partition = await _scalar(scratch_sessions, _PARTITION)
    row_by_row = await load_path(scratch_sessions, NAIP / "items.ndjson", batch_size=BATCH)
    assert await _scalar(scratch_sessions, _PARTITION) == partition  # not staged
    assert row_by_row.items == staged.items
    assert await _searches(scratch_sessions) == results
    assert await _rows(scratch_sessions) == rows


async def test_readers_see_none_or_all_of_a_staged_load(scratch_sessions) -> None:
    await _collection(scratch_sessions)
    seen: list[int] = []
    done = asyncio.Event()

    async def reader() -> None:
        request = build_search(collections=["naip"], bbox=[-180, -90, 180, 90], count=True)
        while not done.is_set():
            async with scratch_sessions() as session:
                seen.append((await search(session, request)).matched or 0)
            await asyncio.sleep(0.01)

    reading = asyncio.create_task(reader())
    try:
        report = await load_path(
            scratch_sessions, NAIP / "items.ndjson", batch_size=BATCH, stage_min_items=BATCH
        )
    finally:
        done.set()
        await reading
    assert report.ok
    async with scratch_sessions() as session:
        request = build_search(collections=["naip"], bbox=[-180, -90, 180, 90], count=True)
        seen.append((await search(session, request)).matched or 0)
    assert len(seen) > 3 and set(seen) == {0, len(DOCS)}


async def test_a_bad_item_is_refused_and_the_rest_is_staged(
    scratch_sessions, tmp_path
) -> None:
    await _collection(scratch_sessions)
    lines = list(NAIP_LINES)
    lines[450] = orjson.dumps({**DOCS[450], "geometry": {"type": "Point"}})
    path = tmp_path / "items.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = await load_path(scratch_sessions, path, batch_size=BATCH, stage_min_items=BATCH)
    assert len(report.errors) == 1 and ":451" in report.errors[0]
    assert report.items.inserted == len(DOCS) - 1
    assert await _scalar(scratch_sessions, "SELECT count(*) FROM items") == len(DOCS) - 1
    assert all(usable for _, usable, _ in await _indexes(scratch_sessions))


async def test_a_failed_load_leaves_the_partition_empty_with_its_indexes(
    scratch_sessions,
) -> None:
    await _collection(scratch_sessions)
    empty = await _indexes(scratch_sessions)
    written = 0

    def progress(_: str, count: int) -> None:  # the caller stops the load midway
        nonlocal written
        written += count
        if written > len(DOCS) // 2:
            raise Stopped

    with pytest.raises(Stopped):
        await load_path(
            scratch_sessions, NAIP / "items.ndjson", batch_size=BATCH,
            stage_min_items=BATCH, progress=progress,
        )
    assert await _scalar(scratch_sessions, "SELECT count(*) FROM items") == 0
    assert await _indexes(scratch_sessions) == empty
    assert await _staging_tables(scratch_sessions) == []
    # Loading again writes everything.
    again = await load_path(
        scratch_sessions, NAIP / "items.ndjson", batch_size=BATCH, stage_min_items=BATCH
    )
    assert again.ok and again.items.inserted == len(DOCS)
    assert await _indexes(scratch_sessions) == empty


async def test_items_written_meanwhile_are_kept_beside_the_staged_ones(
    scratch_sessions,
) -> None:
    await _collection(scratch_sessions)
    partition = await _scalar(scratch_sessions, _PARTITION)
    url = scratch_sessions.kw["bind"].url.set(drivername="postgresql")
    written = 0

    def progress(_: str, count: int) -> None:
        """Once the first batch is staged, another writer stores an item of the
        collection straight into items (a copy of a staged one, under another id)."""
        nonlocal written
        written += count
        if written != BATCH:
            return
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            staging = conn.execute(
                "SELECT relname FROM pg_class WHERE relname LIKE 'stacql_load_%'"
            ).fetchone()[0]
            conn.execute(f'CREATE TEMP TABLE one AS SELECT * FROM "{staging}" LIMIT 1')
            conn.execute("UPDATE one SET id = 'written-meanwhile'")
            conn.execute("INSERT INTO items SELECT * FROM one")

    report = await load_path(
        scratch_sessions, NAIP / "items.ndjson", batch_size=BATCH,
        stage_min_items=BATCH, progress=progress,
    )
    assert report.ok and report.items.inserted == len(DOCS)
    assert await _scalar(scratch_sessions, _PARTITION) == partition  # merged, not swapped
    assert await _scalar(scratch_sessions, "SELECT count(*) FROM items") == len(DOCS) + 1
    assert await _staging_tables(scratch_sessions) == []
    await _searches(scratch_sessions)


async def test_a_batch_of_two_collections_follows_the_staged_items(
    scratch_sessions, tmp_path
) -> None:
    """Staged batches, then batches mixing the collection with another and repeating a
    staged item: the staged items are put in place first, and the later version wins
    as in a load row by row."""
    collection = orjson.loads((NAIP / "collection.json").read_bytes())
    for document in (collection, {**collection, "id": "naip-copy"}):
        path = tmp_path / f"{document['id']}.json"
        path.write_bytes(orjson.dumps(document))
        assert (await load_path(scratch_sessions, path)).ok
    partition = await _scalar(scratch_sessions, _PARTITION)
    changed = {**DOCS[0], "properties": {**DOCS[0]["properties"], "gsd": 9.5}}
    mixed = [
        doc if number % 2 else {**doc, "collection": "naip-copy"}
        for number, doc in enumerate(DOCS[2 * BATCH:])
    ]
    path = tmp_path / "items.ndjson"
    path.write_bytes(b"".join(
        orjson.dumps(doc) + b"\n" for doc in [*DOCS[:2 * BATCH], changed, *mixed]
    ))
    report = await load_path(scratch_sessions, path, batch_size=BATCH, stage_min_items=BATCH)
    assert report.ok, report.errors
    assert (report.items.inserted, report.items.updated) == (len(DOCS), 1)
    assert await _scalar(scratch_sessions, _PARTITION) != partition  # staged, swapped
    assert await _scalar(
        scratch_sessions,
        f"SELECT properties->>'gsd' FROM items WHERE id = '{DOCS[0]['id']}'",
    ) == "9.5"
    assert all(usable for _, usable, _ in await _indexes(scratch_sessions))
    assert await _staging_tables(scratch_sessions) == []
