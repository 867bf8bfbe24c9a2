"""Collection search: collections whose extent meets a bbox / time range, or whose
text matches free-text terms, in id order with keyset paging."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.geometry import bbox_polygon, parse_bbox
from catalog.search.freetext import parse_terms
from catalog.search.lookup import collections, visible
from catalog.temporal import Interval, parse_interval, parse_rfc3339


@dataclass(frozen=True)
class CollectionPage:
    """Matching collection documents and the id to continue after (None at the end)."""

    collections: list[dict[str, Any]]
    next_token: str | None
    matched: int


def _meets_bbox(doc: dict[str, Any], area: shapely.Geometry) -> bool:
    boxes = doc.get("extent", {}).get("spatial", {}).get("bbox") or []
    return bool(boxes) and area.intersects(bbox_polygon(boxes[0]))


def _meets_interval(doc: dict[str, Any], interval: Interval) -> bool:
    spans = doc.get("extent", {}).get("temporal", {}).get("interval") or [[None, None]]
    start, end = (None if v is None else parse_rfc3339(v) for v in spans[0])
    if interval.end is not None and start is not None and start > interval.end:
        return False
    return not (interval.start is not None and end is not None and end < interval.start)


def _text(doc: dict[str, Any]) -> str:
    keywords = " ".join(k for k in doc.get("keywords") or [] if isinstance(k, str))
    parts = (doc.get("id"), doc.get("title"), doc.get("description"), keywords)
    return " ".join(p for p in parts if isinstance(p, str)).lower()


async def search_collections(
    session: AsyncSession,
    *,
    bbox: Sequence[Any] | None = None,
    datetime: str | Interval | None = None,
    q: str | Sequence[str] | None = None,
    limit: int = 10,
    token: str | None = None,
    readable_private: frozenset[str] | None = None,
) -> CollectionPage:
    """Collections meeting every given condition, ``limit`` at a time after ``token``.

    Raises ``InvalidBbox`` / ``InvalidDatetime`` / ``InvalidInput`` for bad parameters.
    """
    area = bbox_polygon(parse_bbox(bbox)) if bbox else None
    if isinstance(datetime, str):
        interval = parse_interval(datetime) if datetime else None
    else:
        interval = datetime
    terms = parse_terms(q)
    query = select(collections.c.content).where(visible(readable_private))
    with translate_db_errors():
        rows = await session.execute(query.order_by(collections.c.id))
    matching = [
        doc for (doc,) in rows
        if (area is None or _meets_bbox(doc, area))
        and (interval is None or _meets_interval(doc, interval))
        and (not terms or any(t in _text(doc) for t in terms))
    ]
    after = [doc for doc in matching if token is None or doc["id"] > token]
    page = after[:limit]
    next_token = page[-1]["id"] if len(after) > limit else None
    return CollectionPage(page, next_token, len(matching))
