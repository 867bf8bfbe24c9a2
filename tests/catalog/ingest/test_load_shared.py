"""Loading every STAC source of ../shared/data/stac through the real loader."""

from __future__ import annotations

import orjson
from sqlalchemy import text

from catalog.ingest import LoadReport
from catalog.search import build_search, search
from tests.support.paths import STAC_DATA

# Files that are not valid STAC items/collections, each refused with its reason.
EXPECTED_REFUSALS = {
    "stac-server/stac/badGeometryItem.json": "not nested as a Polygon",
    "stac-validator/bad_item_v090.json": "id",
    "stac-server/geometry/badGeoUnclosed.json": "not a STAC",
}


def _refusal(report: LoadReport, relative: str) -> str | None:
    path = str(STAC_DATA / relative)
    return next((e for e in report.errors if e.startswith(path)), None)


def test_every_bad_source_is_refused_with_its_reason(shared_load_report: LoadReport) -> None:
    for relative, reason in EXPECTED_REFUSALS.items():
        refusal = _refusal(shared_load_report, relative)
        assert refusal is not None, relative
        assert reason in refusal


def test_no_valid_item_is_refused(shared_load_report: LoadReport) -> None:
    refused_items = [e for e in shared_load_report.errors if "item '" in e]
    # The spec's collectionless example has no collection to go to: refused, by design.
    allowed = ("badGeometryItem", "collectionless-item.json")
    assert all(any(a in e for a in allowed) for e in refused_items), refused_items


async def test_naip_items_are_all_loaded(loaded_sessions) -> None:
    path = STAC_DATA / "pgstac/planetary-computer/data/naip/items.ndjson"
    expected = {orjson.loads(line)["id"] for line in path.read_bytes().splitlines()}
    async with loaded_sessions() as session:
        rows = await session.execute(text("SELECT id FROM items WHERE collection_id = 'naip'"))
        assert {r[0] for r in rows} == expected


async def test_searched_item_is_the_document_that_was_loaded(loaded_sessions) -> None:
    path = STAC_DATA / "pgstac/planetary-computer/data/naip/items.ndjson"
    original = orjson.loads(path.read_bytes().splitlines()[17])
    async with loaded_sessions() as session:
        page = await search(session, build_search(ids=[original["id"]], collections=["naip"]))
    assert page.items == [original]
