"""Items stored against templates (migration 0020): served as they were given, by every
reader of items, compressed, rewritten only when changed, and put back whole when the
migration is undone."""

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
from catalog.ingest import load_path, upsert_collection
from catalog.ingest.templates import MIN_ITEMS
from catalog.search import build_search, search
from catalog.search.assets import assets_of_items, search_assets
from catalog.search.lookup import get_item
from stacql.settings import DatabaseSettings, Settings
from tests.support.app_client import app_client
from tests.support.databases import create_migrated_database, drop_database
from tests.support.loading import placeholder_collection

TEMPLATES = importlib.import_module("catalog.db.migrations.versions.0020_item_templates")
EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
VIEW = "https://stac-extensions.github.io/view/v1.0.0/schema.json"
BANDS = {
    "s2": [{"name": "B02", "common_name": "blue"}, {"name": "B03", "common_name": "green"}],
    "ls": [{"name": "SR_B2", "common_name": "blue"}, {"name": "SR_B3", "common_name": "green"}],
}
COUNT = 40


def _item(n: int) -> dict[str, Any]:
    kind = "s2" if n % 2 else "ls"
    assets: dict[str, Any] = {
        # Keys out of JSONB's order (shorter first), members beyond the named ones,
        # values JSON tells apart from the most common one.
        "visual": {"href": f"https://x.test/{n}/visual.tif",
                   "type": "image/tiff; application=geotiff", "title": "True colour",
                   "roles": ["visual"], "eo:bands": BANDS[kind],
                   "raster:scale": 1.0 if n == 7 else 1},
        "thumbnail": {"href": f"https://x.test/{n}/thumb.png", "type": "image/png",
                      "roles": ["thumbnail"], "file:size": 1000 + n},
        "data": {"href": f"https://x.test/{n}/data.tif", "roles": ["data"],
                 "type": "image/tiff"},
    }
    if n == 11:
        del assets["data"]["type"]  # a member the others share, missing
    if n == 12:
        assets["extra"] = {"href": "https://x.test/12/extra.json", "title": "only here"}
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"item-{n:02d}", "collection": "c",
        "stac_extensions": [EO, VIEW] if n != 13 else [EO],
        "geometry": {"type": "Point", "coordinates": [n / 10, n / 20]},
        "bbox": [n / 10, n / 20, n / 10, n / 20],
        "properties": {"datetime": f"2021-01-{n % 28 + 1:02d}T00:00:00Z", "n": n,
                       "description": f"scene {n} of a test of templates " * 4},
        "links": [], "assets": assets,
    }


ITEMS = [_item(n) for n in range(COUNT)]


def _write(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = create_migrated_database("item_templates")
    engine = create_engine(url, pool_size=2)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await upsert_collection(session, placeholder_collection("c"))
    assert (await load_path(sessions, _write(tmp_path / "items.ndjson", ITEMS))).ok
    yield url, engine
    await engine.dispose()
    drop_database(url)


def _given(item: dict[str, Any]) -> str:
    """The parts of an item a template may hold, as JSON text (``1``, ``1.0`` and
    ``true`` differ; the members of an object in any order, as JSONB keeps them)."""
    return json.dumps([item["assets"], item["stac_extensions"]], sort_keys=True)


async def _served(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """What every reader of items serves of them."""
    keys = [("c", item["id"]) for item in ITEMS]
    async with sessions() as session:
        looked_up = [_given(await get_item(session, c, i)) for c, i in keys]
        page = await search(session, build_search(collections=["c"], limit=COUNT))
        of_items = await assets_of_items(session, keys)
        thumbnails = await search_assets(
            session, build_search(), roles=["thumbnail"], limit=COUNT
        )
    return {
        "looked_up": looked_up,
        "searched": sorted(_given(item) for item in page.items),
        "of_items": [[a.key for a in of_items[key]] for key in keys],
        "assets": [json.dumps(a.asset, sort_keys=True) for a in sorted(
            (a for assets in of_items.values() for a in assets),
            key=lambda a: (a.item_id, a.key),
        )],
        "thumbnails": [(a.item_id, a.asset) for a in thumbnails.assets],
    }


async def _stored(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT id, template_id, pg_column_compression(properties) AS compression "
            "FROM items ORDER BY id"
        ))
        return list(rows)


async def test_items_are_served_as_given_and_stored_without_what_they_share(
    catalog: tuple[str, AsyncEngine],
) -> None:
    url, engine = catalog
    sessions = create_sessionmaker(engine)
    served = await _served(sessions)
    assert served["looked_up"] == [_given(item) for item in ITEMS]
    assert served["searched"] == sorted(_given(item) for item in ITEMS)
    assert served["of_items"] == [list(item["assets"]) for item in ITEMS]
    assert served["assets"] == [
        json.dumps(item["assets"][key], sort_keys=True)
        for item in ITEMS for key in sorted(item["assets"])
    ]
    # The role and media type of every thumbnail are its template's.
    assert served["thumbnails"] == [(item["id"], item["assets"]["thumbnail"]) for item in ITEMS]

    # Over HTTP, the STAC API's pages and items: the same documents.
    async with app_client(Settings(database=DatabaseSettings(url=url))) as (_, client):
        page = (await client.get("/search", params={"collections": "c", "limit": COUNT})).json()
        single = (await client.get("/collections/c/items/item-07")).json()
    assert sorted(_given(item) for item in page["features"]) == served["searched"]
    assert _given(single) == _given(ITEMS[7])

    stored = await _stored(engine)
    templated = {row.id for row in stored if row.template_id is not None}
    # Item 11 lacks a member the template of its kind has: stored whole.
    assert templated == {item["id"] for item in ITEMS} - {"item-11"}
    # Every new row is compressed, though a templated one is short of 2 kB.
    assert {row.compression for row in stored} == {"lz4"}
    async with engine.connect() as conn:
        kept = (await conn.execute(text(
            "SELECT assets, stac_extensions FROM items WHERE id = 'item-03'"
        ))).one()
        view = (await conn.execute(text(
            "SELECT key, href, media_type, roles FROM assets WHERE item_id = 'item-03' "
            "ORDER BY position"
        ))).all()
    assert kept.assets == {key: {"href": asset["href"]} | (
        {"file:size": asset["file:size"]} if "file:size" in asset else {}
    ) for key, asset in ITEMS[3]["assets"].items()}
    assert kept.stac_extensions is None
    assert view == [
        (key, asset["href"], asset.get("type"), asset["roles"])
        for key, asset in ITEMS[3]["assets"].items()
    ]


async def test_a_reload_rewrites_only_changed_items_whatever_their_batch(
    catalog: tuple[str, AsyncEngine], tmp_path: Path,
) -> None:
    _, engine = catalog
    sessions = create_sessionmaker(engine)
    # Too few items for a template: the same items, unchanged though stored otherwise,
    # and new ones stored whole.
    new = [_item(n) for n in range(COUNT, COUNT + 2)]
    few = _write(tmp_path / "few.ndjson", ITEMS[:MIN_ITEMS - 3] + new)
    report = await load_path(sessions, few)
    assert (report.items.unchanged, report.items.inserted) == (MIN_ITEMS - 3, 2)
    assert report.items.updated == 0
    async with sessions() as session:
        for item in new:
            assert _given(await get_item(session, "c", item["id"])) == _given(item)
    assert [row.template_id for row in await _stored(engine)][-2:] == [None, None]

    changed = json.loads(json.dumps(ITEMS + new))
    changed[5]["assets"]["thumbnail"]["type"] = "image/jpeg"  # a shared member
    changed[6]["stac_extensions"] = [VIEW]
    report = await load_path(sessions, _write(tmp_path / "changed.ndjson", changed))
    assert (report.items.updated, report.items.unchanged) == (2, COUNT - 2 + len(new))
    async with sessions() as session:
        for n in (5, 6, 4):
            assert _given(await get_item(session, "c", f"item-{n:02d}")) == _given(changed[n])


async def test_undoing_the_migration_puts_every_item_back_whole(
    catalog: tuple[str, AsyncEngine],
) -> None:
    url, engine = catalog
    sessions = create_sessionmaker(engine)
    served = await _served(sessions)
    await engine.dispose()
    command.downgrade(alembic_config(url), TEMPLATES.down_revision)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, assets, stac_extensions FROM items"))).all()
    assert sorted((r.id, _given({"assets": r.assets, "stac_extensions": r.stac_extensions}))
                  for r in rows) == sorted((item["id"], _given(item)) for item in ITEMS)
    await engine.dispose()
    upgrade(url)
    assert await _served(sessions) == served
