"""Assets in their item's row (migration 0019): a catalog loaded before it is upgraded
with the same item documents, asset rows, asset order and asset search results, and
downgraded back to the assets table with the same rows."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.db.migrate import alembic_config, upgrade
from catalog.ingest import load_path
from catalog.search import build_search
from catalog.search.assets import assets_of_items, search_assets
from catalog.search.lookup import get_item
from tests.support.databases import create_migrated_database, drop_database

ITEM_ASSETS = importlib.import_module("catalog.db.migrations.versions.0019_item_assets")
BEFORE = ITEM_ASSETS.down_revision

# Key orders JSONB would not keep, nulls, empty roles, members beyond the named ones,
# keys that differ only in case or length.
ASSETS: list[dict[str, Any]] = [
    {
        "visual": {"href": "https://x.test/a/visual.tif", "type": "image/tiff",
                   "roles": ["visual"], "eo:bands": [{"name": "B1"}]},
        "data": {"href": "https://x.test/a/data.tif",
                 "type": "image/tiff; application=geotiff", "title": None,
                 "roles": ["data"], "raster:scale": 1.5},
        "B": {"href": "https://x.test/a/b.jpg", "roles": [], "description": "d"},
        "a": {"href": "https://x.test/a/a.xml", "type": "application/xml",
              "nested": {"z": 1, "a": [None, 2]}},
    },
    {
        "a": {"href": "https://x.test/b/a"},
        "bb": {"href": "https://x.test/b/bb", "roles": ["thumbnail", "data"]},
    },
    {},
]


def _item(n: int, assets: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"item-{n}", "collection": "c",
        "geometry": {"type": "Point", "coordinates": [n, n / 2]}, "bbox": [n, n / 2, n, n / 2],
        "properties": {"datetime": f"2021-01-0{n + 1}T00:00:00Z", "n": n},
        "links": [], "assets": assets,
    }


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = create_migrated_database("item_assets")
    collection = tmp_path / "c.json"
    collection.write_text(json.dumps({
        "type": "Collection", "stac_version": "1.0.0", "id": "c", "description": "c",
        "license": "CC0-1.0", "links": [],
        "extent": {"spatial": {"bbox": [[0, 0, 3, 3]]},
                   "temporal": {"interval": [["2021-01-01T00:00:00Z", None]]}},
    }))
    items_file = tmp_path / "items.ndjson"
    items_file.write_text("".join(json.dumps(_item(n, a)) + "\n" for n, a in enumerate(ASSETS)))
    engine = create_engine(url, pool_size=2)
    sessions = create_sessionmaker(engine)
    for path in (collection, items_file):
        assert (await load_path(sessions, path)).ok
    yield url, engine
    await engine.dispose()
    drop_database(url)


async def _served(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Everything the catalog reads of the items' assets, as the code at head reads it."""
    keys = [("c", f"item-{n}") for n in range(len(ASSETS))]
    async with sessions() as session:
        documents = [
            json.dumps(await get_item(session, c, i), ensure_ascii=False) for c, i in keys
        ]
        of_items = await assets_of_items(session, keys)
        pages = {}
        for roles, media_type in ((None, None), (["data"], None), (None, "image/tiff")):
            page = await search_assets(
                session, build_search(), roles=roles, media_type=media_type, limit=2
            )
            after = await search_assets(
                session, build_search(), roles=roles, media_type=media_type, limit=10,
                after=page.cursors[-1],
            )
            pages[f"{roles}/{media_type}"] = [
                (a.item_id, a.key, a.asset) for a in page.assets + after.assets
            ]
    return {
        "documents": documents,
        "of_items": {k: [(a.key, a.asset) for a in v] for k, v in of_items.items()},
        "pages": pages,
    }


async def _asset_rows(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT collection_id, item_id, key, position, href, media_type, title, "
            "description, roles, fields FROM assets ORDER BY item_id, position"
        ))
        return [tuple(row) for row in rows]


async def test_the_assets_move_into_their_items_and_back_unchanged(
    catalog: tuple[str, AsyncEngine],
) -> None:
    url, engine = catalog
    sessions = create_sessionmaker(engine)
    served, rows = await _served(sessions), await _asset_rows(engine)

    # What the documents say, computed here: one row per asset, in document order.
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (f"item-{n}", key, position)
        for n, assets in enumerate(ASSETS) for position, key in enumerate(assets)
    ]
    data = served["of_items"][("c", "item-0")][1]
    assert [k for k, _ in served["of_items"][("c", "item-0")]] == list(ASSETS[0])
    assert data == ("data", {"href": "https://x.test/a/data.tif", "roles": ["data"],
                             "type": "image/tiff; application=geotiff", "raster:scale": 1.5})
    assert "roles" not in dict(served["of_items"][("c", "item-0")])["B"]
    assert [(i, k) for i, k, _ in served["pages"]["['data']/None"]] == [
        ("item-0", "data"), ("item-1", "bb")
    ]
    assert [(i, k) for i, k, _ in served["pages"]["None/image/tiff"]] == [
        ("item-0", "data"), ("item-0", "visual")
    ]
    # Keys in byte order within an item: "B" before "a".
    assert [(i, k) for i, k, _ in served["pages"]["None/None"]] == [
        ("item-0", "B"), ("item-0", "a"), ("item-0", "data"), ("item-0", "visual"),
        ("item-1", "a"), ("item-1", "bb"),
    ]

    # Down to the assets table: the same rows.
    await engine.dispose()
    command.downgrade(alembic_config(url), BEFORE)
    async with engine.connect() as conn:
        kind = await conn.execute(
            text("SELECT relkind::text FROM pg_class WHERE oid = 'assets'::regclass"))
        assert kind.scalar_one() == "r"
    assert await _asset_rows(engine) == rows

    # Up again, from the table as it was: the same documents, order and searches.
    await engine.dispose()
    upgrade(url)
    assert await _served(sessions) == served
    assert await _asset_rows(engine) == rows
    async with engine.connect() as conn:
        orders = await conn.execute(text("SELECT id, asset_order FROM items ORDER BY id"))
        assert list(orders) == [("item-0", "3,2,0,1"), ("item-1", None), ("item-2", None)]
