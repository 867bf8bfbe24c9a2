"""Exports of searches to stac-geoparquet and ndjson, read back by independent readers
(the stac-geoparquet library, DuckDB, rustac) and loaded again."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import rustac
import shapely.geometry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import Principal, set_private
from catalog.errors import InvalidFilter, InvalidInput
from catalog.export import ExportSpec
from catalog.export.run import export_to_file
from catalog.ingest import load_path, upsert_collection
from catalog.stac.links import STRUCTURAL_RELS
from tests.support.exports import comparable, duckdb_rows, geoparquet_items, searched
from tests.support.loading import placeholder_collection
from tests.support.paths import STAC_DATA

NAIP = STAC_DATA / "pgstac/planetary-computer/data/naip"
ADMIN = Principal("admin", name="tests")
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def naip(scratch_sessions: Sessions) -> Sessions:
    """The scratch catalog holding the 1,000 NAIP items of the shared data."""
    report = await load_path(scratch_sessions, NAIP)
    assert report.ok and report.items.inserted == 1000, report.errors
    return scratch_sessions


async def exported(
    sessions: Sessions, path: Path, search: dict, file_format: str = "geoparquet",
    principal: Principal = ADMIN, **options,
):
    return await export_to_file(
        sessions, ExportSpec.of(principal, search, file_format), path, **options
    )


ALABAMA_WEST = {"collections": ["naip"], "bbox": [-88.5, 30.0, -86.5, 32.0]}


async def test_geoparquet_holds_the_search_items_for_three_readers(
    naip: Sessions, tmp_path: Path
) -> None:
    path = tmp_path / "west.parquet"
    result = await exported(naip, path, ALABAMA_WEST)
    expected = await searched(naip, collections=["naip"], bbox=ALABAMA_WEST["bbox"])
    assert 0 < len(expected) < 1000
    assert (result.items, result.collections) == (len(expected), ("naip",))
    assert result.bytes == path.stat().st_size

    by_library = geoparquet_items(path)
    assert [comparable(i) for i in by_library] == [comparable(i) for i in expected]

    rustac_items = rustac.read_sync(str(path))["features"]
    assert [comparable(i) for i in rustac_items] == [comparable(i) for i in expected]

    rows = duckdb_rows(path)
    assert rows == [
        (i["id"], i["collection"], comparable(i)["properties"]["datetime"],
         shapely.geometry.shape(i["geometry"]).wkb_hex)
        for i in expected
    ]


async def test_ndjson_lines_are_the_search_items(naip: Sessions, tmp_path: Path) -> None:
    path = tmp_path / "west.ndjson"
    result = await exported(naip, path, {**ALABAMA_WEST, "limit": 3}, "ndjson")
    expected = await searched(naip, collections=["naip"], bbox=ALABAMA_WEST["bbox"])
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    # The structural links are an API's to write; the file keeps the others.
    keep = [{**i, "links": [x for x in i["links"] if x["rel"] not in STRUCTURAL_RELS]}
            for i in expected]
    assert lines == keep and result.items == len(expected)


async def test_small_pages_give_the_same_file(naip: Sessions, tmp_path: Path) -> None:
    """Keyset paging neither skips nor repeats an item, whatever the page size."""
    whole, paged = tmp_path / "whole.parquet", tmp_path / "paged.parquet"
    await exported(naip, whole, {"collections": ["naip"]})
    await exported(naip, paged, {"collections": ["naip"]}, page_size=37)
    assert whole.read_bytes() == paged.read_bytes()


async def test_round_trip_is_byte_for_byte_stable(naip: Sessions, tmp_path: Path) -> None:
    """export → load into an empty catalog → export gives the same file, and the
    collection travels in the file's metadata."""
    first, second = tmp_path / "first.parquet", tmp_path / "second.parquet"
    first_lines, second_lines = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    await exported(naip, first, {"collections": ["naip"]})
    await exported(naip, first_lines, {"collections": ["naip"]}, "ndjson")
    async with naip() as session, session.begin():
        from sqlalchemy import text

        await session.execute(text("TRUNCATE collections, items CASCADE"))
    report = await load_path(naip, first)
    assert report.ok, report.errors
    assert (report.collections, report.items.inserted) == ({"created": 1}, 1000) or (
        report.items.inserted == 1000
    )
    await exported(naip, second, {"collections": ["naip"]})
    assert second.read_bytes() == first.read_bytes()
    assert [comparable(i) for i in geoparquet_items(second)] == [
        comparable(orjson.loads(line)) for line in first_lines.read_bytes().splitlines()
    ]
    # ndjson → load → ndjson: the same lines.
    report = await load_path(naip, first_lines)
    assert report.ok, report.errors
    await exported(naip, second_lines, {"collections": ["naip"]}, "ndjson")
    assert second_lines.read_bytes() == first_lines.read_bytes()


async def test_private_items_are_exported_only_to_their_readers(
    naip: Sessions, tmp_path: Path
) -> None:
    async with naip() as session, session.begin():
        await upsert_collection(session, placeholder_collection("secret"))
    item = orjson.loads(NAIP.joinpath("items.ndjson").read_bytes().splitlines()[0])
    secret = tmp_path / "secret.ndjson"
    secret.write_bytes(orjson.dumps({**item, "id": "hidden", "collection": "secret"}) + b"\n")
    assert (await load_path(naip, secret)).ok
    async with naip() as session, session.begin():
        await set_private(session, "secret", True)
    search = {"ids": ["hidden", item["id"]]}
    outsider = Principal("read", "naip", "naip reader")
    out = await exported(naip, tmp_path / "o.ndjson", search, "ndjson", outsider)
    assert (out.items, out.collections) == (1, ("naip",))
    reader = Principal("read", "secret", "secret reader")
    seen = await exported(naip, tmp_path / "r.parquet", search, "geoparquet", reader)
    assert seen.collections == ("secret", "naip") or set(seen.collections) == {"secret", "naip"}
    assert sorted(i["id"] for i in geoparquet_items(tmp_path / "r.parquet")) == sorted(
        ["hidden", item["id"]]
    )


async def test_an_export_that_matches_nothing_is_an_empty_file(
    naip: Sessions, tmp_path: Path
) -> None:
    path = tmp_path / "none.parquet"
    result = await exported(naip, path, {"ids": ["no-such-item"]})
    assert result.items == 0
    assert geoparquet_items(path) == [] and duckdb_rows(path) == []
    assert (await load_path(naip, path)).ok


@pytest.mark.parametrize(
    ("search", "file_format", "error"),
    [
        ({"filter": "naip:state = "}, "geoparquet", InvalidFilter),
        ({"filter": {"op": "no-such-op", "args": []}}, "geoparquet", InvalidFilter),
        ({"colections": ["naip"]}, "geoparquet", InvalidInput),
        ({"collections": ["naip"]}, "shapefile", InvalidInput),
        ([1, 2], "ndjson", InvalidInput),
    ],
)
def test_a_bad_export_is_refused_before_it_runs(search, file_format, error) -> None:
    with pytest.raises(error):
        ExportSpec.of(ADMIN, search, file_format)


async def test_a_failed_export_leaves_no_file(naip: Sessions, tmp_path: Path) -> None:
    path = tmp_path / "sorted.parquet"
    with pytest.raises(InvalidInput):
        await exported(naip, path, {"sortby": [{"field": "no:such", "direction": "asc"}]})
    assert list(tmp_path.iterdir()) == []
