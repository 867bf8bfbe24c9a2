"""Collection extents kept current: the declared extent widened by the items' extent."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.stac.common import dumps
from catalog.stac.items import ItemRecord
from catalog.temporal import format_rfc3339, parse_rfc3339


def _union_bbox(declared: list[float], items: list[float]) -> list[float]:
    if declared[0] > declared[-2 if len(declared) == 4 else 3]:
        return declared  # crosses the antimeridian: widening it needs care we skip
    if len(declared) == 6:
        west, south, low, east, north, high = declared
        return [min(west, items[0]), min(south, items[1]), low,
                max(east, items[2]), max(north, items[3]), high]
    return [min(declared[0], items[0]), min(declared[1], items[1]),
            max(declared[2], items[2]), max(declared[3], items[3])]


def _widen(bound: str | None, value: datetime | None, earliest: bool) -> str | None:
    if bound is None or value is None:
        return bound  # an open bound stays open; no items leaves it as declared
    declared = parse_rfc3339(bound, field="extent")
    pick = min(declared, value) if earliest else max(declared, value)
    return bound if pick == declared else format_rfc3339(pick)


def merge_extent(
    declared: dict[str, Any],
    items_bbox: list[float] | None,
    items_start: datetime | None,
    items_end: datetime | None,
) -> dict[str, Any]:
    """The extent to serve: the declared one, with its overall bbox and interval widened
    so that every item of the collection lies inside them."""
    spatial = [list(b) for b in declared["spatial"]["bbox"]]
    if items_bbox is not None:
        spatial[0] = _union_bbox(spatial[0], items_bbox)
    intervals = [list(i) for i in declared["temporal"]["interval"]]
    start, end = intervals[0]
    intervals[0] = [_widen(start, items_start, True), _widen(end, items_end, False)]
    return {
        **declared,
        "spatial": {**declared["spatial"], "bbox": spatial},
        "temporal": {**declared["temporal"], "interval": intervals},
    }


_EXTENT_ROW = """
    SELECT c.declared_extent, c.content,
           ST_XMin(c.spatial_extent), ST_YMin(c.spatial_extent),
           ST_XMax(c.spatial_extent), ST_YMax(c.spatial_extent),
           c.temporal_start, c.temporal_end
    FROM collections c WHERE c.id = :id
"""


async def _write_content_extent(session: AsyncSession, collection_id: str) -> None:
    row = (await session.execute(text(_EXTENT_ROW), {"id": collection_id})).one()
    declared, content, xmin, ymin, xmax, ymax, start, end = row
    bbox = None if xmin is None else [xmin, ymin, xmax, ymax]
    content = {**content, "extent": merge_extent(declared, bbox, start, end)}
    await session.execute(
        text("UPDATE collections SET content = CAST(:content AS jsonb) WHERE id = :id"),
        {"id": collection_id, "content": dumps(content)},
    )


class ItemsExtent(NamedTuple):
    """The extent of some items of one collection: the bounds of their geometries (None
    when none has one), their time range, and how far their time ranges reach before
    (``lead``) and after (``lag``) their datetime (migration 0022)."""

    bounds: tuple[float, float, float, float] | None
    start: datetime
    end: datetime
    lead: timedelta = timedelta(0)
    lag: timedelta = timedelta(0)


def items_extents(records: Iterable[ItemRecord]) -> dict[str, ItemsExtent]:
    """Per collection, the extent of ``records``."""
    by_collection: dict[str, list[ItemRecord]] = defaultdict(list)
    for record in records:
        by_collection[record.collection_id].append(record)
    extents = {}
    for collection_id, members in by_collection.items():
        bounds = [r.geometry_bounds for r in members if r.geometry_bounds is not None]
        box = None
        if bounds:
            west, south, east, north = zip(*bounds, strict=True)
            box = (min(west), min(south), max(east), max(north))
        extents[collection_id] = ItemsExtent(
            box, min(r.start_datetime for r in members), max(r.end_datetime for r in members),
            max(r.datetime - r.start_datetime for r in members),
            max(r.end_datetime - r.datetime for r in members),
        )
    return extents


_WIDEN = """
UPDATE collections c SET
    spatial_extent = CASE
        WHEN CAST(:west AS float8) IS NULL THEN c.spatial_extent
        ELSE ST_SetSRID(ST_Envelope(ST_Collect(
            c.spatial_extent, ST_MakeEnvelope(:west, :south, :east, :north, 4326)
        )), 4326) END,
    temporal_start = LEAST(c.temporal_start, :start),
    temporal_end = GREATEST(c.temporal_end, :end),
    item_time_lead = GREATEST(c.item_time_lead, :lead),
    item_time_lag = GREATEST(c.item_time_lag, :lag)
WHERE c.id = :id
"""


async def widen_extents(session: AsyncSession, extents: dict[str, ItemsExtent]) -> None:
    """Widen each collection's items extent by ``extents`` (of items being written)."""
    for collection_id, extent in sorted(extents.items()):
        west, south, east, north = extent.bounds or (None, None, None, None)
        await session.execute(text(_WIDEN), {
            "id": collection_id, "west": west, "south": south, "east": east,
            "north": north, "start": extent.start, "end": extent.end,
            "lead": extent.lead, "lag": extent.lag,
        })
        await _write_content_extent(session, collection_id)


async def recompute_extent(session: AsyncSession, collection_id: str) -> None:
    """Recompute a collection's items extent from scratch (after deletions)."""
    # Two statements: on Citus an UPDATE of a reference table (collections) cannot read
    # a distributed one (items) routed to one shard; the box goes back as EWKB (exact).
    extent = (await session.execute(
        text(
            "SELECT ST_AsEWKB(ST_SetSRID(ST_Envelope(ST_Extent(geometry)::geometry), 4326)) "
            "AS box, min(start_datetime) AS s, max(end_datetime) AS e "
            "FROM items WHERE collection_id = :id"
        ),
        {"id": collection_id},
    )).one()
    await session.execute(
        text(
            "UPDATE collections SET spatial_extent = ST_GeomFromEWKB(:box), "
            "temporal_start = :s, temporal_end = :e WHERE id = :id"
        ),
        {"box": extent.box, "s": extent.s, "e": extent.e, "id": collection_id},
    )
    await _write_content_extent(session, collection_id)
