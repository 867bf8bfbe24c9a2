"""Bulk upsert and deletion of items.

A batch is first encoded as rows of PostgreSQL's COPY text format (``prepare_items``:
plain CPU work, which a bulk load does in a worker thread while the database writes the
previous batch). Writing it (``upsert_prepared``) reads the stored content hashes of its
keys, then:

* new items and their assets are copied straight into ``items`` and ``assets``;
* changed items go through a staging table and one ``INSERT ... ON CONFLICT``, and
  their assets are replaced;
* unchanged items are not sent at all, so loading the same data twice changes nothing
  and costs one lookup per batch.

A batch costs a handful of round trips whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.errors import ItemNotFound, UnknownCollection
from catalog.ingest.extent import recompute_extent, widen_extents
from catalog.ingest.queryables import merge_queryables, property_types
from catalog.stac.common import dumps
from catalog.stac.items import ItemRecord

STAGE_ITEMS = "stacql_stage_items"
STAGE_EXTENT = "stacql_stage_extent"

_ITEM_COLUMNS = (
    "collection_id", "id", "geometry", "bbox", "datetime", "start_datetime",
    "end_datetime", "properties", "links", "stac_version", "stac_extensions", "extra",
    "content_hash",
)
_ASSET_COLUMNS = (
    "collection_id", "item_id", "key", "position", "href", "media_type", "title",
    "description", "roles", "fields",
)
_EXTENT_COLUMNS = ("collection_id", "geometry", "start_datetime", "end_datetime")

_CREATE_STAGES = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGE_ITEMS} (
    collection_id text, id text, geometry geometry(Geometry, 4326), bbox float8[],
    datetime timestamptz, start_datetime timestamptz, end_datetime timestamptz,
    properties jsonb, links jsonb, stac_version text, stac_extensions jsonb, extra jsonb,
    content_hash text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS {STAGE_EXTENT} (
    collection_id text, geometry text, start_datetime timestamptz, end_datetime timestamptz
) ON COMMIT DELETE ROWS;
DELETE FROM {STAGE_ITEMS};
DELETE FROM {STAGE_EXTENT};
"""

_STORED_HASHES = """
SELECT i.collection_id, i.id, i.content_hash
FROM unnest($1::text[], $2::text[]) AS k(collection_id, id)
JOIN items i ON i.collection_id = k.collection_id AND i.id = k.id
"""

_MERGE_ITEMS = f"""
INSERT INTO items AS i (
    collection_id, id, geometry, bbox, datetime, start_datetime, end_datetime,
    properties, links, stac_version, stac_extensions, extra, content_hash
)
SELECT collection_id, id, geometry, bbox, datetime, start_datetime, end_datetime,
       properties, links, stac_version, stac_extensions, extra, content_hash
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

# COPY text format: https://www.postgresql.org/docs/15/sql-copy.html (File Formats)
_NULL = "\\N"


def _text(value: str | None) -> str:
    """A text field: backslash, tab, newline and carriage return escaped."""
    if value is None:
        return _NULL
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _json(value: Any) -> str:
    """A JSON field. Compact JSON escapes every control character inside strings, so
    backslashes are all there is to escape."""
    encoded = dumps(value)
    return encoded.replace("\\", "\\\\") if "\\" in encoded else encoded


def _floats(values: Sequence[float] | None) -> str:
    """A float8[] field; orjson writes the shortest text that reads back as the same
    double."""
    return _NULL if values is None else "{" + orjson.dumps(values).decode()[1:-1] + "}"


@lru_cache(maxsize=4096)
def _strings(values: tuple[str, ...]) -> str:
    """A text[] field: every element quoted for the array syntax, then escaped for COPY."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return _text("{" + ",".join(quoted) + "}")


class EncodedItem(NamedTuple):
    """An item's key and content hash with its COPY text rows (UTF-8, each ending in a
    newline). Only what writing needs: a batch prepared in another process travels back
    as these few strings."""

    collection_id: str
    id: str
    content_hash: str
    row: bytes
    asset_rows: bytes
    extent_row: bytes


def _encode(r: ItemRecord) -> EncodedItem:
    collection, item = _text(r.collection_id), _text(r.id)
    geometry = r.geometry_wkb or _NULL
    nominal = r.datetime.isoformat()
    # Most items have a single datetime: the three columns then hold the same object.
    start = nominal if r.start_datetime is r.datetime else r.start_datetime.isoformat()
    end = nominal if r.end_datetime is r.datetime else r.end_datetime.isoformat()
    row = "\t".join((
        collection, item, geometry, _floats(r.bbox), nominal, start, end,
        _json(r.properties), _json(r.links), _text(r.stac_version),
        _json(r.stac_extensions), _json(r.extra), r.content_hash,
    ))
    asset_rows = "".join(
        f"{collection}\t{item}\t{_text(a.key)}\t{a.position}\t{_text(a.href)}\t"
        f"{_text(a.media_type)}\t{_text(a.title)}\t{_text(a.description)}\t"
        f"{_strings(tuple(a.roles))}\t{_json(a.fields)}\n"
        for a in r.assets
    )
    return EncodedItem(
        r.collection_id, r.id, r.content_hash, (row + "\n").encode(), asset_rows.encode(),
        f"{collection}\t{geometry}\t{start}\t{end}\n".encode(),
    )


@dataclass(frozen=True)
class PreparedItems:
    """A batch ready for ``upsert_prepared``: one entry per (collection, id), the last
    occurrence of a key winning, in the order keys first appear; and, per collection,
    the property names of the batch with their JSON types (for the queryables)."""

    items: dict[tuple[str, str], EncodedItem]
    property_types: dict[str, dict[str, set[str]]]


def prepare_items(records: Iterable[ItemRecord]) -> PreparedItems:
    """Deduplicate a batch and encode it for COPY; CPU only, safe in a worker thread or
    process."""
    latest = {(r.collection_id, r.id): r for r in records}
    return PreparedItems(
        {key: _encode(r) for key, r in latest.items()},
        {c: dict(names) for c, names in property_types(latest.values()).items()},
    )


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


async def _require_collections(session: AsyncSession, ids: set[str]) -> None:
    rows = await session.execute(
        text("SELECT id FROM collections WHERE id = ANY(:ids)"), {"ids": sorted(ids)}
    )
    missing = ids - {row[0] for row in rows.all()}
    if missing:
        raise UnknownCollection(
            f"unknown collection(s): {', '.join(sorted(missing))}; create them first"
        )


async def _copy(
    driver: asyncpg.Connection, table: str, rows: bytes, columns: Sequence[str]
) -> None:
    # A memoryview: asyncpg would take plain bytes for a file name.
    await driver.copy_to_table(table, source=memoryview(rows), columns=columns, format="text")


def _keys(items: Sequence[EncodedItem]) -> tuple[list[str], list[str]]:
    return [e.collection_id for e in items], [e.id for e in items]


async def _partition(
    driver: asyncpg.Connection, batch: PreparedItems
) -> tuple[list[EncodedItem], list[EncodedItem]]:
    """The batch's (new, changed) items, by the content hashes already stored."""
    keys = list(batch.items)
    rows = await driver.fetch(_STORED_HASHES, [c for c, _ in keys], [i for _, i in keys])
    stored = {(row["collection_id"], row["id"]): row["content_hash"] for row in rows}
    new = [e for key, e in batch.items.items() if key not in stored]
    changed = [
        e for key, e in batch.items.items()
        if key in stored and stored[key] != e.content_hash
    ]
    return new, changed


async def _copy_new(driver: asyncpg.Connection, new: list[EncodedItem]) -> bool:
    """COPY items believed absent; False (and nothing written) when one exists, e.g.
    because a concurrent writer created it a moment ago."""
    await driver.execute("SAVEPOINT stacql_new_items")
    try:
        await _copy(driver, "items", b"".join(e.row for e in new), _ITEM_COLUMNS)
    except asyncpg.UniqueViolationError:
        await driver.execute("ROLLBACK TO SAVEPOINT stacql_new_items")
        return False
    await driver.execute("RELEASE SAVEPOINT stacql_new_items")
    return True


async def _merge(
    driver: asyncpg.Connection, items: list[EncodedItem]
) -> tuple[list[EncodedItem], list[EncodedItem]]:
    """Upsert through the staging table; returns the (inserted, updated) items."""
    await _copy(driver, STAGE_ITEMS, b"".join(e.row for e in items), _ITEM_COLUMNS)
    by_key = {(e.collection_id, e.id): e for e in items}
    inserted: list[EncodedItem] = []
    updated: list[EncodedItem] = []
    for row in await driver.fetch(_MERGE_ITEMS):
        target = inserted if row["inserted"] else updated
        target.append(by_key[(row["collection_id"], row["id"])])
    return inserted, updated


async def _write_items(
    driver: asyncpg.Connection, new: list[EncodedItem], changed: list[EncodedItem]
) -> tuple[list[EncodedItem], list[EncodedItem]]:
    """Write new and changed items and drop the old assets of replaced ones; returns the
    (inserted, updated) items, whose assets are still to be written."""
    await driver.execute(_CREATE_STAGES)
    if new and not await _copy_new(driver, new):
        new, changed = [], new + changed
    inserted, updated = await _merge(driver, changed) if changed else ([], [])
    if updated:
        await driver.execute(_DELETE_OLD_ASSETS, *_keys(updated))
    return new + inserted, updated


async def _write_all_new(
    driver: asyncpg.Connection, batch: PreparedItems
) -> tuple[list[EncodedItem], list[EncodedItem]] | None:
    """COPY the whole batch as new items: the (inserted, updated) items, or None, with
    nothing written, when one of them exists already."""
    await driver.execute(_CREATE_STAGES)
    items = list(batch.items.values())
    return (items, []) if await _copy_new(driver, items) else None


async def _write_dependents(
    session: AsyncSession,
    driver: asyncpg.Connection,
    written: list[EncodedItem],
    batch: PreparedItems,
) -> None:
    """The assets of written items, their collections' extents and queryables.

    The queryables take the property types of the whole batch: those of its unchanged
    items were merged when they were written, so merging them again adds nothing.
    """
    asset_rows = b"".join(e.asset_rows for e in written)
    if asset_rows:
        await _copy(driver, "assets", asset_rows, _ASSET_COLUMNS)
    await _copy(driver, STAGE_EXTENT, b"".join(e.extent_row for e in written), _EXTENT_COLUMNS)
    await widen_extents(session, STAGE_EXTENT)
    written_collections = {e.collection_id for e in written}
    await merge_queryables(
        session,
        {c: names for c, names in batch.property_types.items() if c in written_collections},
    )


async def upsert_items(session: AsyncSession, records: Sequence[ItemRecord]) -> UpsertSummary:
    """Insert or replace items (and their assets) in one batch; the caller commits.

    Items are keyed by (collection, id); when an id repeats in the batch, the last one
    wins. Items whose content is unchanged are not rewritten. Raises
    ``UnknownCollection`` before writing anything when a collection does not exist.
    """
    return await upsert_prepared(session, prepare_items(records))


async def upsert_prepared(
    session: AsyncSession, batch: PreparedItems, *, likely_new: bool = False
) -> UpsertSummary:
    """Write a batch made by ``prepare_items``, as ``upsert_items`` does; the caller
    commits.

    ``likely_new`` says that the batch's items are probably all absent (in a bulk load,
    when the previous batch was): they are then copied without first reading the stored
    hashes of their keys, which are read only when one of them turns out to exist.
    """
    if not batch.items:
        return UpsertSummary()
    with translate_db_errors():
        # Through the session first: that opens the transaction the raw COPYs join.
        await _require_collections(session, {collection for collection, _ in batch.items})
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        written = await _write_all_new(driver, batch) if likely_new else None
        if written is None:
            new, changed = await _partition(driver, batch)
            written = await _write_items(driver, new, changed) if new or changed else ([], [])
        inserted, updated = written
        if inserted or updated:
            await _write_dependents(session, driver, inserted + updated, batch)
    return UpsertSummary(
        inserted=len(inserted),
        updated=len(updated),
        unchanged=len(batch.items) - len(inserted) - len(updated),
    )


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
