"""Assets as first-class search results, and the assets of many items in one query."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, column, func, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TEXT
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.errors import InvalidCursor
from catalog.search.render import item_assets_json, items
from catalog.search.request import SearchRequest
from catalog.search.where import where_clauses

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


def in_document_order(assets: dict[str, Any], asset_order: str | None) -> list[tuple[str, Any]]:
    """An item's (key, asset) pairs from its ``assets`` and ``asset_order`` columns, in
    the order of the item as given: ``asset_order`` lists the positions of the keys in
    ``assets`` (JSONB's order, which the decoded object keeps), None when the same."""
    if asset_order is None:
        return list(assets.items())
    stored = list(assets)
    return [(stored[int(i)], assets[stored[int(i)]]) for i in asset_order.split(",")]


# One row per asset of the items scanned: its key (compared as bytes, as asset keys
# were) and STAC asset object.
_each = func.jsonb_each(item_assets_json()).table_valued(
    column("key", TEXT), column("value", JSONB)
).lateral("each_asset")
_KEY = _each.c.key.collate("C")
_COLUMNS = (
    items.c.collection_id, items.c.id.label("item_id"), _KEY.label("key"),
    _each.c.value.label("asset"),
)


async def assets_of_items(
    session: AsyncSession, keys: Sequence[ItemKey]
) -> dict[ItemKey, list[AssetRow]]:
    """Every asset of the given items, in document order, in one query."""
    found: dict[ItemKey, list[AssetRow]] = {key: [] for key in keys}
    if not keys:
        return found
    query = select(
        items.c.collection_id, items.c.id, item_assets_json().label("assets"),
        items.c.asset_order,
    ).where(tuple_(items.c.collection_id, items.c.id).in_(list(found)))
    with translate_db_errors():
        rows = (await session.execute(query)).all()
    for row in rows:
        found[(row.collection_id, row.id)] = [
            AssetRow(row.collection_id, row.id, key, asset)
            for key, asset in in_document_order(row.assets, row.asset_order)
        ]
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
    stored = _each.c.value["type"].astext
    return or_(stored == media_type, stored.startswith(media_type + ";", autoescape=True))


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
        wanted = func.cast(list(roles), ARRAY(TEXT))  # type: ignore[arg-type]
        clauses.append(_each.c.value["roles"].op("?|")(wanted))
    if media_type:
        clauses.append(_media_type_matches(media_type))
    if after:
        position = tuple_(items.c.collection_id, items.c.id, _KEY)
        clauses.append(position > tuple_(*decode_asset_cursor(after)))
    query = (
        select(*_COLUMNS)
        .select_from(items.join(_each, true()))
        .where(*clauses)
        .order_by(items.c.collection_id, items.c.id, _KEY)
        .limit(limit + 1)
    )
    with translate_db_errors():
        rows = [_row(row) for row in (await session.execute(query)).all()]
    page = rows[:limit]
    return AssetPage(page, [encode_asset_cursor(r) for r in page], len(rows) > limit)
