"""Bulk loads whose ndjson batches are prepared in worker processes: the same rows as a
load prepared in this process, the same refusals, and assets that follow their items."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from catalog.ingest import delete_collection, delete_item, load_path
from catalog.ingest.loader import _line_chunks
from tests.support.paths import STAC_DATA

NAIP = STAC_DATA / "pgstac/planetary-computer/data/naip"
NAIP_LINES = (NAIP / "items.ndjson").read_bytes().splitlines()
# Small batches, so that several are prepared ahead while one is written.
BATCH = 150

ITEM_ROWS = """
SELECT collection_id, id, ST_AsEWKB(geometry), bbox, datetime, start_datetime,
       end_datetime, properties, links, stac_version, stac_extensions, extra, content_hash
FROM items ORDER BY collection_id, id
"""
ASSET_ROWS = """
SELECT collection_id, item_id, key, position, href, media_type, title, description, roles,
       fields
FROM assets ORDER BY collection_id, item_id, key
"""


async def _rows(sessions) -> tuple[list, list]:
    async with sessions() as session:
        items = (await session.execute(text(ITEM_ROWS))).all()
        assets = (await session.execute(text(ASSET_ROWS))).all()
    return items, assets


async def _clear(sessions) -> None:
    async with sessions() as session, session.begin():
        await session.execute(text("TRUNCATE collections, items, jobs CASCADE"))


async def _load_naip(sessions, items: Path, processes: int):
    report = await load_path(sessions, NAIP / "collection.json")
    assert report.ok, report.errors
    return await load_path(sessions, items, batch_size=BATCH, processes=processes)


async def test_processes_write_the_rows_a_thread_writes(scratch_sessions) -> None:
    in_thread = await _load_naip(scratch_sessions, NAIP / "items.ndjson", processes=0)
    expected = await _rows(scratch_sessions)
    await _clear(scratch_sessions)
    in_processes = await _load_naip(scratch_sessions, NAIP / "items.ndjson", processes=2)
    assert (in_thread.items, in_processes.items) == (in_thread.items, in_thread.items)
    assert in_processes.items.inserted == len(NAIP_LINES) and in_processes.ok
    assert await _rows(scratch_sessions) == expected
    assert len(expected[0]) == len(NAIP_LINES) and len(expected[1]) > len(NAIP_LINES)


async def test_second_load_in_processes_changes_nothing(scratch_sessions) -> None:
    await _load_naip(scratch_sessions, NAIP / "items.ndjson", processes=2)
    before = await _rows(scratch_sessions)
    again = await load_path(
        scratch_sessions, NAIP / "items.ndjson", batch_size=BATCH, processes=2
    )
    assert (again.items.inserted, again.items.updated, again.items.unchanged) == (
        0, 0, len(NAIP_LINES)
    )
    assert await _rows(scratch_sessions) == before


async def test_bad_items_are_refused_by_line_and_the_rest_loads(
    scratch_sessions, tmp_path: Path
) -> None:
    lines = list(NAIP_LINES)
    bad_datetime = orjson.loads(lines[200])
    bad_datetime["properties"]["datetime"] = "yesterday"
    lines[200] = orjson.dumps(bad_datetime)
    no_id = orjson.loads(lines[420])
    del no_id["id"]
    lines[420] = orjson.dumps(no_id)
    path = tmp_path / "items.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")

    report = await _load_naip(scratch_sessions, path, processes=2)

    assert report.items.inserted == len(NAIP_LINES) - 2
    assert len(report.errors) == 2
    assert report.errors[0].startswith(f"{path}:201: ") and "yesterday" in report.errors[0]
    assert report.errors[1].startswith(f"{path}:421: ") and "id" in report.errors[1]


async def test_malformed_line_ends_the_file_after_the_batches_before_it(
    scratch_sessions, tmp_path: Path
) -> None:
    lines = list(NAIP_LINES)
    lines[500] = lines[500][:40]  # cut in the middle of the object
    path = tmp_path / "items.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")

    report = await _load_naip(scratch_sessions, path, processes=2)

    # Batches of 150 lines: the three before line 501's batch are written, nothing after.
    written = 500 // BATCH * BATCH
    assert report.items.inserted == written
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"{path}:501: malformed JSON")
    async with scratch_sessions() as session:
        ids = set((await session.scalars(text("SELECT id FROM items"))).all())
    assert ids == {orjson.loads(line)["id"] for line in NAIP_LINES[:written]}


async def test_collection_lines_split_batches_and_load_first(
    scratch_sessions, tmp_path: Path
) -> None:
    collection = orjson.loads((NAIP / "collection.json").read_bytes())
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join([orjson.dumps(collection), *NAIP_LINES[:400]]) + b"\n")

    report = await load_path(scratch_sessions, path, batch_size=BATCH, processes=2)

    assert report.ok, report.errors
    assert (report.collections, report.items.inserted) == ({"created": 1}, 400)


@pytest.mark.parametrize(
    "how", ["delete item", "delete collection", "truncate items", "truncate collections"]
)
async def test_assets_go_with_their_items(scratch_sessions, how: str) -> None:
    await _load_naip(scratch_sessions, NAIP / "items.ndjson", processes=2)
    first = orjson.loads(NAIP_LINES[0])
    async with scratch_sessions() as session, session.begin():
        if how == "delete item":
            await delete_item(session, "naip", first["id"])
        elif how == "delete collection":
            await delete_collection(session, "naip")
        elif how == "truncate items":
            await session.execute(text("TRUNCATE items"))
        else:
            await session.execute(text("TRUNCATE collections CASCADE"))
    async with scratch_sessions() as session:
        orphans = await session.scalar(text(
            "SELECT count(*) FROM assets a WHERE NOT EXISTS (SELECT 1 FROM items i "
            "WHERE i.collection_id = a.collection_id AND i.id = a.item_id)"
        ))
        left = await session.scalar(text("SELECT count(*) FROM assets"))
    assert orphans == 0
    if how == "delete item":
        assert left == sum(len(orjson.loads(line)["assets"]) for line in NAIP_LINES[1:])
    else:
        assert left == 0
    async with scratch_sessions() as session:
        items_left = await session.scalar(text("SELECT count(*) FROM items"))
    assert items_left == (len(NAIP_LINES) - 1 if how == "delete item" else 0)
    # The deleted item loads again, assets and all (no stale asset row is in the way).
    again = await _load_naip(scratch_sessions, NAIP / "items.ndjson", processes=2)
    assert again.ok, again.errors


@pytest.mark.parametrize("processes", [0, 2])
async def test_items_present_in_a_batch_after_all_new_ones_are_found_unchanged(
    scratch_sessions, tmp_path: Path, processes: int
) -> None:
    # After an all-new batch the next one is copied without a lookup first; existing
    # items in it must still be found (and left alone), the rest inserted.
    present = tmp_path / "present.ndjson"
    present.write_bytes(b"\n".join([*NAIP_LINES[:300], *NAIP_LINES[700:750]]) + b"\n")
    await _load_naip(scratch_sessions, present, processes=0)
    async with scratch_sessions() as session:
        stamps = dict((await session.execute(text("SELECT id, updated_at FROM items"))).all())

    report = await load_path(
        scratch_sessions, NAIP / "items.ndjson", batch_size=BATCH, processes=processes
    )

    assert report.ok, report.errors
    summary = report.items
    assert (summary.inserted, summary.updated, summary.unchanged) == (650, 0, 350)
    async with scratch_sessions() as session:
        after = dict((await session.execute(text("SELECT id, updated_at FROM items"))).all())
    assert {k: after[k] for k in stamps} == stamps
    rows = await _rows(scratch_sessions)
    await _clear(scratch_sessions)
    await _load_naip(scratch_sessions, NAIP / "items.ndjson", processes=0)
    assert await _rows(scratch_sessions) == rows


@settings(
    max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one file, rewritten
)
@given(
    lines=st.lists(st.binary(max_size=6).filter(lambda b: b"\n" not in b), max_size=40),
    final_newline=st.booleans(),
    size=st.integers(1, 9),
    block_size=st.sampled_from([1, 2, 3, 7, 64, 1 << 22]),
)
def test_line_runs_are_those_of_reading_line_by_line(
    tmp_path: Path, lines: list[bytes], final_newline: bool, size: int, block_size: int
) -> None:
    source = tmp_path / "lines.ndjson"
    source.write_bytes(b"\n".join(lines) + (b"\n" if final_newline and lines else b""))
    with source.open("rb") as handle:
        read = handle.readlines()
    expected, offset = [], 0
    for first in range(0, len(read), size):
        length = sum(map(len, read[first:first + size]))
        expected.append((first + 1, offset, length))
        offset += length
    assert list(_line_chunks(source, size, block_size)) == expected
