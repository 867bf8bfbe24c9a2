"""Bulk upsert and deletion of items.

A batch is copied into temporary staging tables with PostgreSQL COPY and merged with one
``INSERT ... ON CONFLICT`` per table, so a batch of thousands of items costs a handful of
round trips. An item whose content did not change is left untouched, which makes loading
the same data twice a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.errors import ItemNotFound, UnknownCollection
from catalog.ingest.extent import recompute_extent, widen_extents
from catalog.ingest.queryables import merge_queryables, property_types
from catalog.stac.common import dumps
from catalog.stac.items import ItemRecord

STAGE_ITEMS = "stacql_stage_items"
STAGE_ASSETS = "stacql_stage_assets"

_ITEM_COLUMNS = (
    "collection_id", "id", "geometry", "bbox", "datetime", "start_datetime",
    "end_datetime", "properties", "links", "stac_version", "stac_extensions", "extra",
    "content_hash",
)
_ASSET_COLUMNS = (
    "collection_id", "item_id", "key", "position", "href", "media_type", "title",
    "description", "roles", "fields",
)

_CREATE_STAGES = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGE_ITEMS} (
    collection_id text, id text, geometry text, bbox float8[], datetime timestamptz,
    start_datetime timestamptz, end_datetime timestamptz, properties text, links text,
    stac_version text, stac_extensions text, extra text, content_hash text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS {STAGE_ASSETS} (
    collection_id text, item_id text, key text, position int, href text,
    media_type text, title text, description text, roles text[], fields text
) ON COMMIT DELETE ROWS;
TRUNCATE {STAGE_ITEMS}, {STAGE_ASSETS};
"""

_MERGE_ITEMS = f"""
INSERT INTO items AS i (
    collection_id, id, geometry, bbox, datetime, start_datetime, end_datetime,
    properties, links, stac_version, stac_extensions, extra, content_hash
)
SELECT collection_id, id, ST_GeomFromWKB(decode(geometry, 'hex'), 4326), bbox, datetime,
       start_datetime, end_datetime, properties::jsonb, links::jsonb, stac_version,
       stac_extensions::jsonb, extra::jsonb, content_hash
FROM {STAGE_ITEMS}
ON CONFLICT (collection_id, id) DO UPDATE SET
    geometry = EXCLUDED.geometry, bbox = EXCLUDED.bbox, datetime = EXCLUDED.datetime,
    start_datetime = EXCLUDED.start_datetime, end_datetime = EXCLUDED.end_datetime,
    properties = EXCLUDED.properties, links = EXCLUDED.links,
    stac_version = EXCLUDED.stac_version, stac_extensions = EXCLUDED.stac_extensions,
    extra = EXCLUDED.extra, content_hash = EXCLUDED.content_hash, updated_at = now()
WHERE i.content_hash IS DISTINCT FROM EXCLUDED.content_hash
RETURNING i.collection_id, i.id, (xmax = 0) AS inserted
"""

_DELETE_OLD_ASSETS = """
DELETE FROM assets a
USING unnest($1::text[], $2::text[]) AS k(collection_id, item_id)
WHERE a.collection_id = k.collection_id AND a.item_id = k.item_id
"""

_INSERT_ASSETS = f"""
INSERT INTO assets (
    collection_id, item_id, key, position, href, media_type, title, description, roles,
    fields
)
SELECT s.collection_id, s.item_id, s.key, s.position, s.href, s.media_type, s.title,
       s.description, s.roles, s.fields::jsonb
FROM {STAGE_ASSETS} s
JOIN unnest($1::text[], $2::text[]) AS k(collection_id, item_id)
  ON s.collection_id = k.collection_id AND s.item_id = k.item_id
"""


@dataclass
class UpsertSummary:
    """What an upsert did: items created, changed, and left as they were."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertSummary) -> UpsertSummary:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def _item_row(r: ItemRecord) -> tuple:
    return (
        r.collection_id, r.id, r.geometry_wkb, r.bbox, r.datetime, r.start_datetime,
        r.end_datetime, dumps(r.properties), dumps(r.links), r.stac_version,
        dumps(r.stac_extensions), dumps(r.extra), r.content_hash,
    )


def _asset_rows(r: ItemRecord) -> list[tuple]:
    return [
        (r.collection_id, r.id, a.key, a.position, a.href, a.media_type, a.title,
         a.description, a.roles, dumps(a.fields))
        for a in r.assets
    ]


async def _require_collections(session: AsyncSession, ids: set[str]) -> None:
    rows = await session.execute(
        text("SELECT id FROM collections WHERE id = ANY(:ids)"), {"ids": sorted(ids)}
    )
    missing = ids - {row[0] for row in rows.all()}
    if missing:
        raise UnknownCollection(
            f"unknown collection(s): {', '.join(sorted(missing))}; create them first"
        )


async def upsert_items(session: AsyncSession, records: Sequence[ItemRecord]) -> UpsertSummary:
    """Insert or replace items (and their assets) in one batch; the caller commits.

    Items are keyed by (collection, id); when an id repeats in the batch, the last one
    wins. Items whose content is unchanged are not rewritten. Raises
    ``UnknownCollection`` before writing anything when a collection does not exist.
    """
    latest = {(r.collection_id, r.id): r for r in records}
    if not latest:
        return UpsertSummary()
    batch = list(latest.values())
    with translate_db_errors():
        await _require_collections(session, {r.collection_id for r in batch})
        conn = await (await session.connection()).get_raw_connection()
        driver = conn.driver_connection
        await driver.execute(_CREATE_STAGES)
        await driver.copy_records_to_table(
            STAGE_ITEMS, records=[_item_row(r) for r in batch], columns=_ITEM_COLUMNS
        )
        changed = await driver.fetch(_MERGE_ITEMS)
        summary = UpsertSummary(
            inserted=sum(1 for row in changed if row["inserted"]),
            updated=sum(1 for row in changed if not row["inserted"]),
        )
        summary.unchanged = len(batch) - len(changed)
        if not changed:
            return summary
        keys = ([row["collection_id"] for row in changed], [row["id"] for row in changed])
        if summary.updated:
            await driver.execute(_DELETE_OLD_ASSETS, *keys)
        changed_keys = set(zip(*keys, strict=True))
        asset_rows = [
            row for r in batch if (r.collection_id, r.id) in changed_keys
            for row in _asset_rows(r)
        ]
        if asset_rows:
            await driver.copy_records_to_table(
                STAGE_ASSETS, records=asset_rows, columns=_ASSET_COLUMNS
            )
            await driver.execute(_INSERT_ASSETS, *keys)
        await widen_extents(session, STAGE_ITEMS)
        await merge_queryables(
            session, property_types(r for r in batch if (r.collection_id, r.id) in changed_keys)
        )
    return summary


async def delete_item(session: AsyncSession, collection_id: str, item_id: str) -> None:
    """Delete an item and its assets; raises ``ItemNotFound`` when it does not exist."""
    with translate_db_errors():
        result = await session.execute(
            text("DELETE FROM items WHERE collection_id = :c AND id = :i"),
            {"c": collection_id, "i": item_id},
        )
        if result.rowcount == 0:
            raise ItemNotFound(f"no item {item_id!r} in collection {collection_id!r}")
        await recompute_extent(session, collection_id)
