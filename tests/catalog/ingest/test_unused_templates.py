"""Pruning the item templates no row names (``stacql db templates prune``), on a real
PostgreSQL: what items, deleted items kept for saved searches and loads in progress name
stays, the rest goes, items are served as before, and a load writing templates is waited
for."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from catalog.db import create_engine, create_sessionmaker
from catalog.errors import Conflict
from catalog.ingest import delete_item, load_path, unused_templates, upsert_collection
from catalog.ingest.templates import MIN_ITEMS
from catalog.ingest.unused_templates import prune_unused_templates
from catalog.search.lookup import get_item
from tests.support.databases import create_migrated_database, drop_database
from tests.support.loading import placeholder_collection

REPO = Path(__file__).resolve().parents[3]
KINDS = {
    "s2": [{"name": "B02", "common_name": "blue"}, {"name": "B03", "common_name": "green"}],
    "ls": [{"name": "SR_B2", "common_name": "blue"}, {"name": "SR_B3", "common_name": "green"}],
    "naip": [{"name": "red"}, {"name": "green"}, {"name": "blue"}],
}
PER_KIND = MIN_ITEMS * 2


def _item(kind: str, n: int) -> dict[str, Any]:
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"{kind}-{n:02d}", "collection": "c",
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
        "geometry": {"type": "Point", "coordinates": [n / 10, n / 20]},
        "bbox": [n / 10, n / 20, n / 10, n / 20],
        "properties": {"datetime": f"2021-01-{n % 28 + 1:02d}T00:00:00Z"},
        "links": [],
        "assets": {
            "data": {"href": f"https://x.test/{kind}/{n}.tif", "roles": ["data"],
                     "type": "image/tiff; application=geotiff", "eo:bands": KINDS[kind],
                     "title": f"{kind} bands"},
            "thumbnail": {"href": f"https://x.test/{kind}/{n}.png", "roles": ["thumbnail"],
                          "type": "image/png"},
        },
    }


BATCHES = {kind: [_item(kind, n) for n in range(PER_KIND)] for kind in KINDS}


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = create_migrated_database("unused_templates")
    engine = create_engine(url, pool_size=3)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await upsert_collection(session, placeholder_collection("c"))
    # One load per kind: each learns the template of its kind alone.
    for kind, items in BATCHES.items():
        path = tmp_path / f"{kind}.ndjson"
        path.write_text("".join(json.dumps(item) + "\n" for item in items))
        assert (await load_path(sessions, path)).ok
    yield url, engine
    await engine.dispose()
    drop_database(url)


async def _templates_of(engine: AsyncEngine) -> dict[str, int]:
    """Each kind's template, as its rows name it (one per kind, or the test is moot)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT DISTINCT split_part(id, '-', 1), template_id FROM items"
        ))).all()
    named = dict(rows)
    assert len(rows) == len(KINDS) and all(named.values()), rows
    return named


async def _stored(engine: AsyncEngine) -> set[int]:
    async with engine.connect() as conn:
        return set((await conn.execute(text("SELECT id FROM item_templates"))).scalars())


async def _delete_kind(engine: AsyncEngine, kind: str) -> None:
    async with create_sessionmaker(engine)() as session:
        for item in BATCHES[kind]:
            await delete_item(session, "c", item["id"])
        await session.commit()


async def test_unused_templates_go_and_items_are_served_as_before(
    catalog: tuple[str, AsyncEngine],
) -> None:
    _, engine = catalog
    named = await _templates_of(engine)
    assert await _stored(engine) == set(named.values())
    nothing = await prune_unused_templates(engine)
    assert nothing.unused == [] and nothing.in_use == len(KINDS)

    await _delete_kind(engine, "ls")
    dry = await prune_unused_templates(engine, dry_run=True)
    assert dry.unused == [named["ls"]]
    assert await _stored(engine) == set(named.values())  # a dry run deletes nothing

    pruned = await prune_unused_templates(engine)
    assert pruned.unused == [named["ls"]] and pruned.in_use == len(KINDS) - 1
    assert await _stored(engine) == {named["s2"], named["naip"]}
    async with create_sessionmaker(engine)() as session:
        for kind in ("s2", "naip"):
            for item in BATCHES[kind]:
                served = await get_item(session, "c", item["id"])
                assert served["assets"] == item["assets"]
                assert served["stac_extensions"] == item["stac_extensions"]


async def test_deleted_items_kept_for_saved_searches_and_staged_rows_keep_theirs(
    catalog: tuple[str, AsyncEngine],
) -> None:
    _, engine = catalog
    named = await _templates_of(engine)
    async with engine.begin() as conn:
        # What the deletions trigger copies when a saved search has a webhook.
        await conn.execute(text(
            "INSERT INTO saved_search_deletions SELECT * FROM items WHERE id LIKE 'ls-%'"
        ))
        # A load in progress: its rows wait in a staging table of the loader's name.
        await conn.execute(text(
            "CREATE TABLE stacql_load_0123456789abcdef_01234567 AS "
            "SELECT * FROM items WHERE id LIKE 'naip-%'"
        ))
    await _delete_kind(engine, "ls")
    await _delete_kind(engine, "naip")
    assert (await prune_unused_templates(engine)).unused == []

    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM saved_search_deletions"))  # expired
        await conn.execute(text("DROP TABLE stacql_load_0123456789abcdef_01234567"))
    pruned = await prune_unused_templates(engine)
    assert sorted(pruned.unused) == sorted([named["ls"], named["naip"]])
    assert await _stored(engine) == {named["s2"]}


async def test_a_load_writing_templates_is_waited_for(
    catalog: tuple[str, AsyncEngine], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, engine = catalog
    named = await _templates_of(engine)
    await _delete_kind(engine, "s2")
    writer = create_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=1)
    try:
        async with writer.connect() as load:
            # As a load writes a batch: the template first, then the rows naming it,
            # in one transaction; here the batch names the template the prune would drop.
            await load.execute(text(
                "INSERT INTO item_templates (id, body) "
                "SELECT id, body FROM item_templates WHERE id = :t ON CONFLICT DO NOTHING"
            ), {"t": named["s2"]})
            monkeypatch.setattr(unused_templates, "LOCK_TIMEOUT", "200ms")
            with pytest.raises(Conflict, match="run the prune again"):
                await prune_unused_templates(engine)
            monkeypatch.setattr(unused_templates, "LOCK_TIMEOUT", "30s")

            prune = asyncio.create_task(prune_unused_templates(engine))
            await asyncio.sleep(0.5)
            assert not prune.done()  # waiting for the load to commit
            await load.execute(text(
                "UPDATE items SET template_id = :t WHERE id = 'naip-00'"
            ), {"t": named["s2"]})
            await load.commit()
            pruned = await asyncio.wait_for(prune, 30)
    finally:
        await writer.dispose()
    # The load's row names it now: kept.
    assert pruned.unused == [] and named["s2"] in await _stored(engine)


async def test_cli_prunes_and_reports(catalog: tuple[str, AsyncEngine]) -> None:
    url, engine = catalog
    await _delete_kind(engine, "naip")
    env = {**os.environ, "STACQL_DATABASE_URL": url}
    command = [sys.executable, "-m", "stacql.cli", "db", "templates", "prune"]
    dry = subprocess.run([*command, "--dry-run"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 unused templates; 2 in use" in dry.stderr
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deleted template ")
    assert "deleted 1 unused templates; 2 in use" in done.stderr

