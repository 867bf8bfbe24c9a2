"""Bulk upsert and deletion of items.

A batch is first encoded as rows of PostgreSQL's COPY text format (``prepare_items``:
plain CPU work, which a bulk load does in worker processes while the database writes
earlier batches), with a content hash per item taken over its rows. Writing it
(``upsert_prepared``) reads the stored content hashes of its keys, then:

* new items, their assets in their row (migration 0019), are copied straight into
  ``items``;
* changed items go through a staging table and one ``INSERT ... ON CONFLICT``;
* unchanged items are not sent at all, so loading the same data twice changes nothing
  and costs one lookup per batch.

A batch costs a handful of round trips whatever its size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from functools import lru_cache
from itertools import accumulate
from typing import Any, NamedTuple, cast

import asyncpg
import orjson
from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.errors import ItemNotFound, UnknownCollection
from catalog.ingest.extent import ItemsExtent, items_extents, recompute_extent, widen_extents
from catalog.ingest.templates import Template, fit, learn_templates
from catalog.queryables import merge_queryables, property_types
from catalog.stac.common import dumps
from catalog.stac.items import AssetRecord, ItemRecord

STAGE_ITEMS = "stacql_stage_items"

_ITEM_COLUMNS = (
    "collection_id", "id", "geometry", "bbox", "datetime", "start_datetime",
    "end_datetime", "properties", "links", "stac_version", "stac_extensions", "extra",
    "assets", "asset_order", "template_id", "content_hash",
)

# The columns of items, stored as they are (migration 0019): the staged rows' values are
# compressed here as they would be in items, and the upsert copies them as they are.
_CREATE_STAGES = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGE_ITEMS} (
    LIKE items INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMPRESSION
) WITH (toast_tuple_target = 128) ON COMMIT DELETE ROWS;
DELETE FROM {STAGE_ITEMS};
"""

_STORED_HASHES = """
SELECT i.collection_id, i.id, encode(i.content_hash, 'hex') AS content_hash
FROM unnest($1::text[], $2::text[]) AS k(collection_id, id)
JOIN {table} i ON i.collection_id = k.collection_id AND i.id = k.id
"""

# `updated_at = EXCLUDED.updated_at` is the default, now(): Citus refuses functions that
# are not IMMUTABLE in DO UPDATE SET (catalog.db.citus). `existing` reads the staging
# table (local to the session) in an uncorrelated subquery: Citus computes it first and
# sends its rows to the shards, where a correlated one (EXISTS) is refused.
# Whether a row was inserted or updated is read from a snapshot taken before the write
# (all parts of one statement share it): the `xmax = 0` test cannot be returned from a
# partitioned table. `{table}` is where the rows go (``items``, or a load's staging
# table, see ``catalog.ingest.staging``), `{stage}` where they come from.
# The key of ``items`` holds the datetime (migration 0021): a stored item given with
# another datetime is updated (`moved`; in a collection split by time, from one
# sub-partition to another), never inserted beside the stored one. ON CONFLICT cannot
# change the partition key of the row it updates.
_MERGE_ITEMS = """
WITH existing AS MATERIALIZED (
    SELECT i.collection_id, i.id, i.datetime FROM {table} i
    WHERE (i.collection_id, i.id) IN (SELECT s.collection_id, s.id FROM {stage} s)
), stale AS MATERIALIZED (
    SELECT e.collection_id, e.id FROM existing e
    JOIN {stage} s ON s.collection_id = e.collection_id AND s.id = e.id
    WHERE e.datetime <> s.datetime
), moved AS (
    UPDATE {table} AS i SET
        geometry = s.geometry, bbox = s.bbox, datetime = s.datetime,
        start_datetime = s.start_datetime, end_datetime = s.end_datetime,
        properties = s.properties, links = s.links, stac_version = s.stac_version,
        stac_extensions = s.stac_extensions, extra = s.extra, assets = s.assets,
        asset_order = s.asset_order, template_id = s.template_id,
        content_hash = s.content_hash, updated_at = s.updated_at
    FROM {stage} s
    WHERE i.collection_id = s.collection_id AND i.id = s.id AND i.datetime <> s.datetime
    RETURNING i.collection_id, i.id
), merged AS (
    INSERT INTO {table} AS i (
        collection_id, id, geometry, bbox, datetime, start_datetime, end_datetime,
        properties, links, stac_version, stac_extensions, extra, assets, asset_order,
        template_id, content_hash
    )
    SELECT collection_id, id, geometry, bbox, datetime, start_datetime, end_datetime,
           properties, links, stac_version, stac_extensions, extra, assets, asset_order,
           template_id, content_hash
    FROM {stage}
    WHERE (collection_id, id) NOT IN (SELECT collection_id, id FROM stale)
    ON CONFLICT (collection_id, id, datetime) DO UPDATE SET
        geometry = EXCLUDED.geometry, bbox = EXCLUDED.bbox,
        start_datetime = EXCLUDED.start_datetime, end_datetime = EXCLUDED.end_datetime,
        properties = EXCLUDED.properties, links = EXCLUDED.links,
        stac_version = EXCLUDED.stac_version, stac_extensions = EXCLUDED.stac_extensions,
        extra = EXCLUDED.extra, assets = EXCLUDED.assets, asset_order = EXCLUDED.asset_order,
        template_id = EXCLUDED.template_id, content_hash = EXCLUDED.content_hash,
        updated_at = EXCLUDED.updated_at
    WHERE i.content_hash IS DISTINCT FROM EXCLUDED.content_hash
    RETURNING i.collection_id, i.id
)
SELECT m.collection_id, m.id, NOT EXISTS (
    SELECT 1 FROM existing e WHERE e.collection_id = m.collection_id AND e.id = m.id
) AS inserted
FROM merged m
UNION ALL
SELECT collection_id, id, false FROM moved
"""

# The stored rows of the batch's keys other than the batch's own (its content hash):
# another writer's row of the same id with another datetime, written while this batch
# was (the key of ``items`` holds the datetime, migration 0021). Run under the
# collections' locks, after the other writer committed, so the later write wins as an
# update would have. Deleted in the table that holds them, not through ``items``: its
# statement triggers would record a deletion where the item was only changed.
_SUPERSEDED = """
DELETE FROM {table} i
USING unnest($1::text[], $2::text[], $3::text[]) AS k(collection_id, id, content_hash)
WHERE i.collection_id = k.collection_id AND i.id = k.id
AND i.content_hash <> decode(k.content_hash, 'hex')
RETURNING i.collection_id, i.id
"""

# Before the rows naming them; a template is never changed, so one already stored (by
# an earlier batch or a concurrent writer) is the same.
_INSERT_TEMPLATES = """
INSERT INTO item_templates (id, body)
SELECT * FROM unnest($1::bigint[], $2::text[]::jsonb[])
ON CONFLICT (id) DO NOTHING
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


def _plain(texts: Iterable[str | None]) -> bool:
    """True when none of ``texts`` holds a character COPY needs escaped, so they can go
    into a row as they are. One scan of their concatenation costs less than one call
    of ``_text`` per field, and almost every item passes."""
    joined = "".join(t for t in texts if t is not None)
    return not ("\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined)


def _floats(values: Sequence[float] | None) -> str:
    """A float8[] field; orjson writes the shortest text that reads back as the same
    double."""
    return _NULL if values is None else "{" + orjson.dumps(values).decode()[1:-1] + "}"


@lru_cache(maxsize=4096)
def _strings(values: tuple[str, ...]) -> str:
    """A text[] field: every element quoted for the array syntax, then escaped for COPY."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return _text("{" + ",".join(quoted) + "}")


class _Encoded(NamedTuple):
    """One item's COPY text rows (UTF-8, each ending in a newline) and content hash."""

    content_hash: str
    row: bytes


def _dumps(value: dict[str, Any] | list[Any]) -> str:
    """``dumps``, without a call for the empty objects and arrays most items have."""
    if value:
        return dumps(value)
    return "{}" if isinstance(value, dict) else "[]"


def _jsonb_order(key: str) -> tuple[int, bytes]:
    """Where JSONB puts an object's key: shorter keys first, then by bytes."""
    encoded = key.encode()
    return len(encoded), encoded


def _served_assets(assets: Sequence[AssetRecord]) -> dict[str, Any]:
    """The STAC assets object as served: the named members without nulls, roles when
    there are some, then the other members."""
    served = {}
    for a in assets:
        asset: dict[str, Any] = {"href": a.href}
        if a.media_type is not None:
            asset["type"] = a.media_type
        if a.title is not None:
            asset["title"] = a.title
        if a.description is not None:
            asset["description"] = a.description
        if a.roles:
            asset["roles"] = a.roles
        if a.fields:
            asset.update(a.fields)
        served[a.key] = asset
    return served


@lru_cache(maxsize=4096)
def _asset_order(keys: tuple[str, ...]) -> str:
    """The ``asset_order`` field of an item with assets ``keys`` (in document order):
    their positions in JSONB's order (``1,0``), NULL when the orders agree."""
    stored = sorted(keys, key=_jsonb_order)
    if stored == list(keys):
        return _NULL
    place = {key: i for i, key in enumerate(stored)}
    return ",".join(str(place[key]) for key in keys)


def _escaped(texts: tuple[str, ...]) -> Iterable[str]:
    return texts if _plain(texts) else map(_text, texts)


def _encode(r: ItemRecord, served: dict[str, Any], templates: Sequence[Template]) -> _Encoded:
    # Compact JSON escapes every control character inside strings: a JSON field needs
    # at most its backslashes doubled, which ``_text`` does.
    texts = (
        r.collection_id, r.id, dumps(r.properties), _dumps(r.links), r.stac_version,
        _dumps(r.stac_extensions), _dumps(r.extra), _dumps(served),
    )
    collection, item, properties, links, version, extensions, extra, assets = _escaped(texts)
    geometry = r.geometry_wkb or _NULL
    nominal = r.datetime.isoformat()
    # Most items have a single datetime: the three columns then hold the same object.
    start = nominal if r.start_datetime is r.datetime else r.start_datetime.isoformat()
    end = nominal if r.end_datetime is r.datetime else r.end_datetime.isoformat()
    head = "\t".join((
        collection, item, geometry, _floats(r.bbox), nominal, start, end,
        properties, links, version,
    ))
    order = _asset_order(tuple(served))
    tail = "\t".join((extra, assets, order))
    # The digest of the item as given, whatever template stores it: equal digests,
    # nothing to rewrite. 128 bits of the SHA-256, stored as bytea (hex input, its
    # backslash escaped for COPY).
    digest = hashlib.sha256(f"{head}\t{extensions}\t{tail}".encode()).hexdigest()[:32]
    template_id = _NULL
    if templates and (fitted := fit(templates, served, r.stac_extensions)):
        extensions, assets = _escaped(
            (_dumps(fitted.stac_extensions or []), _dumps(fitted.assets))
        )
        if fitted.stac_extensions is None:
            extensions = _NULL
        tail = "\t".join((extra, assets, order))
        template_id = str(fitted.template.id)
    row = f"{head}\t{extensions}\t{tail}\t{template_id}\t\\\\x{digest}\n"
    return _Encoded(digest, row.encode())


class _Rows(NamedTuple):
    """Consecutive COPY rows in one buffer, the rows of item ``i`` ending at ``ends[i]``."""

    data: bytes
    ends: list[int]

    @classmethod
    def of(cls, parts: Sequence[bytes]) -> _Rows:
        """The rows of each item, in order."""
        return cls(b"".join(parts), list(accumulate(map(len, parts))))

    def select(self, indices: Sequence[int]) -> bytes:
        """The rows of the items at ``indices`` (all of them: the buffer as it is)."""
        if len(indices) == len(self.ends):
            return self.data
        data, ends = self.data, self.ends
        return b"".join(data[ends[i - 1] if i else 0:ends[i]] for i in indices)


@dataclass(frozen=True)
class PreparedItems:
    """A batch ready for ``upsert_prepared``, column by column: one entry per
    (collection, id), the last occurrence of a key winning, in the order keys first
    appear; and, per collection, the property names of the batch with their JSON types
    (for the queryables).

    Columns of strings and buffers rather than an object per item: a batch prepared in
    another process travels back to the writer at the cost of a few copies.
    """

    collection_ids: list[str]
    ids: list[str]
    hashes: list[str]
    rows: _Rows
    extents: dict[str, ItemsExtent]
    property_types: dict[str, dict[str, set[str]]]
    # The templates the rows name (``catalog.ingest.templates``): id → JSON text.
    templates: dict[int, str] = field(default_factory=dict)
    # Per collection, the months ('YYYY-MM', UTC) of its items' datetimes: the
    # sub-partitions a collection split by time range needs (``_ensure_subpartitions``).
    months: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def keys(self) -> set[tuple[str, str]]:
        """The (collection, id) of every item."""
        return set(zip(self.collection_ids, self.ids, strict=True))


def prepare_items(records: Iterable[ItemRecord]) -> PreparedItems:
    """Deduplicate a batch and encode it for COPY; CPU only, safe in a worker thread or
    process."""
    latest = list({(r.collection_id, r.id): r for r in records}.values())
    served = [_served_assets(r.assets) for r in latest]
    templates = _templates(latest, served)
    encoded = [
        _encode(r, assets, templates.get(r.collection_id, ()))
        for r, assets in zip(latest, served, strict=True)
    ]
    return PreparedItems(
        [r.collection_id for r in latest],
        [r.id for r in latest],
        [e.content_hash for e in encoded],
        _Rows.of([e.row for e in encoded]),
        items_extents(latest),
        {c: dict(names) for c, names in property_types(latest).items()},
        {t.id: t.json for of_collection in templates.values() for t in of_collection},
        _months(latest),
    )


def _months(records: Sequence[ItemRecord]) -> dict[str, list[str]]:
    """Per collection, the months of the records' datetimes."""
    months: dict[str, set[str]] = {}
    for r in records:
        months.setdefault(r.collection_id, set()).add(
            r.datetime.astimezone(UTC).strftime("%Y-%m")
        )
    return {c: sorted(of_collection) for c, of_collection in months.items()}


async def _ensure_subpartitions(driver: asyncpg.Connection, batch: PreparedItems) -> None:
    """Make the sub-partitions of the batch's months in its collections split by time
    range (migration 0021; nothing for the others). In the writer's transaction: a new
    table stays locked until it commits, once per interval."""
    pairs = [(c, m) for c, months in batch.months.items() for m in months]
    await driver.execute(
        "SELECT stacql_ensure_item_subpartitions(c, array_agg(m)) "
        "FROM unnest($1::text[], $2::text[]) AS k(c, m) GROUP BY c",
        [c for c, _ in pairs], [m for _, m in pairs],
    )


def _templates(
    records: Sequence[ItemRecord], served: Sequence[dict[str, Any]]
) -> dict[str, list[Template]]:
    """The templates of each collection's items in the batch (none: stored whole)."""
    by_collection: dict[str, tuple[list[dict[str, Any]], list[list[Any]]]] = {}
    for r, assets in zip(records, served, strict=True):
        of_collection = by_collection.setdefault(r.collection_id, ([], []))
        of_collection[0].append(assets)
        of_collection[1].append(r.stac_extensions)
    return {c: learn_templates(*parts) for c, parts in by_collection.items()}


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
    """Raise ``UnknownCollection`` unless every collection exists, and keep them from
    being deleted until the transaction ends (what a foreign key would do per item)."""
    rows = await session.execute(
        text("SELECT id FROM collections WHERE id = ANY(:ids) ORDER BY id FOR KEY SHARE"),
        {"ids": sorted(ids)},
    )
    missing = ids - {row[0] for row in rows.all()}
    if missing:
        raise UnknownCollection(
            f"unknown collection(s): {', '.join(sorted(missing))}; create them first"
        )


async def _insert_templates(driver: asyncpg.Connection, batch: PreparedItems) -> None:
    if batch.templates:
        await driver.execute(
            _INSERT_TEMPLATES, list(batch.templates), list(batch.templates.values())
        )


async def _copy(
    driver: asyncpg.Connection, table: str, rows: bytes, columns: Sequence[str]
) -> None:
    # A memoryview: asyncpg would take plain bytes for a file name.
    await driver.copy_to_table(table, source=memoryview(rows), columns=columns, format="text")


async def _partition(
    driver: asyncpg.Connection, batch: PreparedItems, table: str
) -> tuple[list[int], list[int]]:
    """The positions of the batch's (new, changed) items, by the content hashes already
    stored."""
    rows = await driver.fetch(
        _STORED_HASHES.format(table=table), batch.collection_ids, batch.ids
    )
    stored = {(row["collection_id"], row["id"]): row["content_hash"] for row in rows}
    new: list[int] = []
    changed: list[int] = []
    for i, key in enumerate(zip(batch.collection_ids, batch.ids, strict=True)):
        known = stored.get(key)
        if known is None:
            new.append(i)
        elif known != batch.hashes[i]:
            changed.append(i)
    return new, changed


async def _copy_new(
    driver: asyncpg.Connection, batch: PreparedItems, new: list[int], table: str
) -> bool:
    """COPY items believed absent; False (and nothing written) when one exists, e.g.
    because a concurrent writer created it a moment ago."""
    await driver.execute("SAVEPOINT stacql_new_items")
    try:
        await _copy(driver, table, batch.rows.select(new), _ITEM_COLUMNS)
    except asyncpg.UniqueViolationError:
        await driver.execute("ROLLBACK TO SAVEPOINT stacql_new_items")
        return False
    await driver.execute("RELEASE SAVEPOINT stacql_new_items")
    return True


async def _merge(
    driver: asyncpg.Connection, batch: PreparedItems, items: list[int], table: str
) -> tuple[list[int], list[int]]:
    """Upsert through the staging table; returns the (inserted, updated) positions."""
    await _copy(driver, STAGE_ITEMS, batch.rows.select(items), _ITEM_COLUMNS)
    position = {(batch.collection_ids[i], batch.ids[i]): i for i in items}
    inserted: list[int] = []
    updated: list[int] = []
    for row in await driver.fetch(_MERGE_ITEMS.format(table=table, stage=STAGE_ITEMS)):
        target = inserted if row["inserted"] else updated
        target.append(position[(row["collection_id"], row["id"])])
    return inserted, updated


async def _write_items(
    driver: asyncpg.Connection,
    batch: PreparedItems,
    new: list[int],
    changed: list[int],
    table: str,
) -> tuple[list[int], list[int]]:
    """Write new and changed items; returns the (inserted, updated) positions."""
    await driver.execute(_CREATE_STAGES)
    if new and not await _copy_new(driver, batch, new, table):
        new, changed = [], sorted(new + changed)
    inserted, updated = (
        await _merge(driver, batch, changed, table) if changed else ([], [])
    )
    return sorted(new + inserted), updated


async def _write_all_new(
    driver: asyncpg.Connection, batch: PreparedItems, table: str
) -> tuple[list[int], list[int]] | None:
    """COPY the whole batch as new items: the (inserted, updated) positions, or None,
    with nothing written, when one of them exists already."""
    await driver.execute(_CREATE_STAGES)
    everything = list(range(len(batch)))
    return (everything, []) if await _copy_new(driver, batch, everything, table) else None


async def _write_dependents(
    session: AsyncSession,
    written: list[int],
    batch: PreparedItems,
) -> None:
    """The collections' extents and queryables of written items.

    The queryables take the property types of the whole batch: those of its unchanged
    items were merged when they were written, so merging them again adds nothing.
    """
    written_collections = sorted({batch.collection_ids[i] for i in written})
    # The collections' rows are updated last (extent, queryables) and stay locked until
    # the commit. Locking them all at once, in one order, keeps concurrent writers of
    # several collections from deadlocking.
    await session.execute(
        text("SELECT 1 FROM collections WHERE id = ANY(:ids) ORDER BY id FOR NO KEY UPDATE"),
        {"ids": written_collections},
    )
    # The extent of the whole batch: its items not written are stored already, and so
    # inside their collection's extent.
    await widen_extents(session, {c: batch.extents[c] for c in written_collections})
    await merge_queryables(
        session,
        {c: names for c, names in batch.property_types.items() if c in written_collections},
    )


async def _drop_superseded(
    driver: asyncpg.Connection,
    batch: PreparedItems,
    inserted: list[int],
    updated: list[int],
    table: str,
) -> tuple[list[int], list[int]]:
    """Delete the rows of written items that another writer stored with another datetime
    while this batch was written (``_SUPERSEDED``); returns the (inserted, updated)
    positions, an item that replaced such a row counted as updated.

    Called holding the written collections' locks (``_write_dependents``): a writer of
    the same id committed before, its row is seen here; one committing after sees ours.
    """
    written = sorted(inserted + updated)
    position = {(batch.collection_ids[i], batch.ids[i]): i for i in written}
    if table == "items":
        rows = await driver.fetch(
            "SELECT c, stacql_item_partition_of(c) FROM unnest($1::text[]) AS c",
            sorted({batch.collection_ids[i] for i in written}),
        )
        tables = [(row[0], row[1]) for row in rows]
    else:
        tables = [(None, table)]
    replaced: set[int] = set()
    for collection_id, holder in tables:
        of_it = [i for i in written
                 if collection_id is None or batch.collection_ids[i] == collection_id]
        # Names from the catalog (a partition) or from the load (its staging table).
        for row in await driver.fetch(
            _SUPERSEDED.format(table=f'"{holder}"'),
            [batch.collection_ids[i] for i in of_it],
            [batch.ids[i] for i in of_it],
            [batch.hashes[i] for i in of_it],
        ):
            replaced.add(position[(row["collection_id"], row["id"])])
    if not replaced:
        return inserted, updated
    return (
        [i for i in inserted if i not in replaced],
        sorted(set(updated) | (replaced & set(inserted)) | (replaced & set(updated))),
    )


async def upsert_items(session: AsyncSession, records: Sequence[ItemRecord]) -> UpsertSummary:
    """Insert or replace items (and their assets) in one batch; the caller commits.

    Items are keyed by (collection, id); when an id repeats in the batch, the last one
    wins. Items whose content is unchanged are not rewritten. Raises
    ``UnknownCollection`` before writing anything when a collection does not exist.
    """
    return await upsert_prepared(session, prepare_items(records))


async def upsert_prepared(
    session: AsyncSession,
    batch: PreparedItems,
    *,
    likely_new: bool = False,
    table: str = "items",
) -> UpsertSummary:
    """Write a batch made by ``prepare_items``, as ``upsert_items`` does; the caller
    commits.

    ``likely_new`` says that the batch's items are probably all absent (in a bulk load,
    when the previous batch was): they are then copied without first reading the stored
    hashes of their keys, which are read only when one of them turns out to exist.
    ``table`` is where the items go: ``items``, or a bulk load's staging table of one
    collection's items (``catalog.ingest.staging``).
    """
    if not len(batch):
        return UpsertSummary()
    with translate_db_errors():
        # Through the session first: that opens the transaction the raw COPYs join.
        await _require_collections(session, set(batch.collection_ids))
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        if table == "items":
            await _ensure_subpartitions(driver, batch)
        await _insert_templates(driver, batch)
        written = await _write_all_new(driver, batch, table) if likely_new else None
        if written is None:
            new, changed = await _partition(driver, batch, table)
            written = (
                await _write_items(driver, batch, new, changed, table)
                if new or changed else ([], [])
            )
        inserted, updated = written
        if inserted or updated:
            await _write_dependents(session, sorted(inserted + updated), batch)
            inserted, updated = await _drop_superseded(driver, batch, inserted, updated, table)
    return UpsertSummary(
        inserted=len(inserted),
        updated=len(updated),
        unchanged=len(batch) - len(inserted) - len(updated),
    )


async def merge_staged_rows(session: AsyncSession, staging_table: str) -> None:
    """Write the rows of a bulk load's staging table into ``items``, as changed items
    are written (a stored item whose content hash differs is replaced); the caller
    commits."""
    with translate_db_errors():
        await session.execute(
            text(_MERGE_ITEMS.format(table="items", stage=f'"{staging_table}"'))
        )
        # As ``_drop_superseded``: under the collections' locks, the rows another writer
        # stored meanwhile with another datetime go (the staged ones are later).
        collections = (await session.execute(text(
            f'SELECT DISTINCT collection_id FROM "{staging_table}" ORDER BY 1'
        ))).scalars().all()
        await session.execute(
            text("SELECT 1 FROM collections WHERE id = ANY(:ids) ORDER BY id "
                 "FOR NO KEY UPDATE"),
            {"ids": list(collections)},
        )
        for collection_id in collections:
            holder = (await session.execute(
                text("SELECT stacql_item_partition_of(:c)"), {"c": collection_id}
            )).scalar_one()
            await session.execute(text(
                f'DELETE FROM "{holder}" i USING "{staging_table}" s '
                "WHERE i.collection_id = s.collection_id AND i.id = s.id "
                "AND i.content_hash <> s.content_hash"
            ))


async def delete_item(session: AsyncSession, collection_id: str, item_id: str) -> None:
    """Delete an item and its assets; raises ``ItemNotFound`` when it does not exist."""
    with translate_db_errors():
        result = cast(CursorResult[Any], await session.execute(
            text("DELETE FROM items WHERE collection_id = :c AND id = :i"),
            {"c": collection_id, "i": item_id},
        ))
        if result.rowcount == 0:
            raise ItemNotFound(f"no item {item_id!r} in collection {collection_id!r}")
        await recompute_extent(session, collection_id)
