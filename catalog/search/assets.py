"""Assets as first-class search results, and the assets of many items in one query."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, TEXT
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.errors import InvalidCursor
from catalog.search.engine import where_clauses
from catalog.search.render import asset_json, assets, items
from catalog.search.request import SearchRequest

ItemKey = tuple[str, str]
"""(collection id, item id)."""


@dataclass(frozen=True)
class AssetRow:
    """One asset: where it belongs, its key, and its STAC asset object."""

    collection_id: str
    item_id: str
    key: str
    asset: dict[str, Any]


@dataclass(frozen=True)
class AssetPage:
    """A page of assets, a cursor after each one, and whether more follow."""

    assets: list[AssetRow]
    cursors: list[str]
    has_more: bool


def _row(row: Any) -> AssetRow:
    return AssetRow(row.collection_id, row.item_id, row.key, row.asset)


_COLUMNS = (assets.c.collection_id, assets.c.item_id, assets.c.key, asset_json().label("asset"))


async def assets_of_items(
    session: AsyncSession, keys: Sequence[ItemKey]
) -> dict[ItemKey, list[AssetRow]]:
    """Every asset of the given items, in document order, in one query."""
    found: dict[ItemKey, list[AssetRow]] = {key: [] for key in keys}
    if not keys:
        return found
    query = (
        select(*_COLUMNS)
        .where(tuple_(assets.c.collection_id, assets.c.item_id).in_(list(found)))
        .order_by(assets.c.collection_id, assets.c.item_id, assets.c.position)
    )
    with translate_db_errors():
        rows = (await session.execute(query)).all()
    for row in rows:
        found[(row.collection_id, row.item_id)].append(_row(row))
    return found


def encode_asset_cursor(row: AssetRow) -> str:
    """The opaque token that continues after ``row``."""
    raw = orjson.dumps([row.collection_id, row.item_id, row.key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_asset_cursor(token: str) -> tuple[str, str, str]:
    """The (collection, item, key) a token continues after; ``InvalidCursor`` if bad."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("the asset cursor is malformed") from exc
    well_formed = isinstance(values, list) and len(values) == 3
    if not well_formed or not all(isinstance(v, str) for v in values):
        raise InvalidCursor("the asset cursor is malformed")
    return values[0], values[1], values[2]


def _media_type_matches(media_type: str) -> ColumnElement:
    # "image/tiff" also finds "image/tiff; application=geotiff; profile=cloud-optimized".
    return or_(
        assets.c.media_type == media_type,
        assets.c.media_type.startswith(media_type + ";", autoescape=True),
    )


async def search_assets(
    session: AsyncSession,
    request: SearchRequest,
    *,
    roles: Sequence[str] | None = None,
    media_type: str | None = None,
    limit: int = 10,
    after: str | None = None,
) -> AssetPage:
    """Assets having any of ``roles`` and the media type, whose items match ``request``
    (collections, bbox, intersects, datetime, filter), in (collection, item, key) order."""
    clauses: list[ColumnElement] = [*where_clauses(request)]
    if roles:
        clauses.append(assets.c.roles.op("&&")(func.cast(list(roles), ARRAY(TEXT))))  # type: ignore[arg-type]
    if media_type:
        clauses.append(_media_type_matches(media_type))
    if after:
        position = tuple_(assets.c.collection_id, assets.c.item_id, assets.c.key)
        clauses.append(position > tuple_(*decode_asset_cursor(after)))
    join = assets.join(
        items, and_(items.c.collection_id == assets.c.collection_id, items.c.id == assets.c.item_id)
    )
    query = (
        select(*_COLUMNS)
        .select_from(join)
        .where(*clauses)
        .order_by(assets.c.collection_id, assets.c.item_id, assets.c.key)
        .limit(limit + 1)
    )
    with translate_db_errors():
        rows = [_row(row) for row in (await session.execute(query)).all()]
    page = rows[:limit]
    return AssetPage(page, [encode_asset_cursor(r) for r in page], len(rows) > limit)
