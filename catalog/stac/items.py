"""Validation and normalization of STAC items into rows for the items and assets tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from catalog.errors import InvalidDatetime, InvalidStac
from catalog.geometry import geometry_bbox, parse_bbox, parse_geometries
from catalog.stac.common import (
    check_extensions,
    check_id,
    check_links,
    check_version,
    content_hash,
    require_dict,
)
from catalog.temporal import parse_rfc3339

ITEM_MEMBERS = frozenset(
    {
        "type",
        "stac_version",
        "stac_extensions",
        "id",
        "collection",
        "geometry",
        "bbox",
        "properties",
        "links",
        "assets",
    }
)
ASSET_COLUMNS = ("href", "type", "title", "description", "roles")


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """One row of the assets table."""

    key: str
    position: int
    href: str
    media_type: str | None
    title: str | None
    description: str | None
    roles: list[str]
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """A validated item, split into the columns of the items table and its assets."""

    collection_id: str
    id: str
    geometry_wkb: str | None
    bbox: list[float] | None
    datetime: datetime
    start_datetime: datetime
    end_datetime: datetime
    properties: dict[str, Any]
    links: list[dict[str, Any]]
    stac_version: str
    stac_extensions: list[str]
    extra: dict[str, Any]
    content_hash: str
    assets: list[AssetRecord]


def _time_range(props: dict[str, Any], label: str) -> tuple[datetime, datetime, datetime]:
    """(nominal datetime, start, end) from the properties, as STAC defines them."""
    raw = props.get("datetime")
    start_raw, end_raw = props.get("start_datetime"), props.get("end_datetime")
    if (start_raw is None) != (end_raw is None):
        raise InvalidDatetime(f"{label}: start_datetime and end_datetime go together")
    start = parse_rfc3339(start_raw, field=f"{label} start_datetime") if start_raw else None
    end = parse_rfc3339(end_raw, field=f"{label} end_datetime") if end_raw else None
    if start and end and start > end:
        raise InvalidDatetime(f"{label}: start_datetime is after end_datetime")
    if raw is None:
        if start is None or end is None:
            raise InvalidDatetime(
                f"{label}: properties.datetime is null, so start_datetime and "
                "end_datetime are required"
            )
        return start, start, end
    instant = parse_rfc3339(raw, field=f"{label} datetime")
    return instant, start or instant, end or instant


def _asset(key: Any, value: Any, position: int, label: str) -> AssetRecord:
    if not isinstance(key, str) or not key:
        raise InvalidStac(f"{label}: asset keys must be non-empty strings")
    if not isinstance(value, dict) or not isinstance(value.get("href"), str):
        raise InvalidStac(f"{label}: asset {key!r} needs an 'href' string")
    roles = value.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidStac(f"{label}: asset {key!r} roles must be an array of strings")
    for name in ("type", "title", "description"):
        field = value.get(name)
        if field is not None and not isinstance(field, str):
            raise InvalidStac(f"{label}: asset {key!r} '{name}' must be a string")
    return AssetRecord(
        key=key,
        position=position,
        href=value["href"],
        media_type=value.get("type"),
        title=value.get("title"),
        description=value.get("description"),
        roles=roles,
        fields={k: v for k, v in value.items() if k not in ASSET_COLUMNS},
    )


def _check_item(doc: Any, collection_id: str | None) -> tuple[dict[str, Any], str, str]:
    """Checks of everything but the geometry; returns (doc, label, collection)."""
    doc = require_dict(doc, "item")
    item_id = check_id(doc.get("id"), "item")
    label = f"item {item_id!r}"
    if doc.get("type") != "Feature":
        raise InvalidStac(f"{label}: 'type' must be 'Feature'")
    collection = doc.get("collection") or collection_id
    if collection is None:
        raise InvalidStac(f"{label}: the item names no collection")
    check_id(collection, "collection")
    if collection_id is not None and collection != collection_id:
        raise InvalidStac(f"{label} belongs to {collection!r}, not to {collection_id!r}")
    if not isinstance(doc.get("properties"), dict):
        raise InvalidStac(f"{label}: 'properties' must be an object")
    if doc.get("geometry") is None and doc.get("bbox") is not None:
        raise InvalidStac(f"{label}: an item without geometry must not have a bbox")
    return doc, label, collection


def _record(
    doc: dict[str, Any], label: str, collection: str, geometry: BaseGeometry | None
) -> ItemRecord:
    props = doc["properties"]
    nominal, start, end = _time_range(props, label)
    bbox = doc.get("bbox")
    if bbox is not None:
        bbox = list(parse_bbox(bbox, label=f"{label} bbox"))
    elif geometry is not None:
        bbox = geometry_bbox(geometry)
    assets_doc = doc.get("assets") or {}
    if not isinstance(assets_doc, dict):
        raise InvalidStac(f"{label}: 'assets' must be an object")
    normalized = doc if doc.get("collection") == collection else {**doc, "collection": collection}
    return ItemRecord(
        collection_id=collection,
        id=doc["id"],
        geometry_wkb=None,
        bbox=bbox,
        datetime=nominal,
        start_datetime=start,
        end_datetime=end,
        properties=props,
        links=check_links(doc.get("links"), label),
        stac_version=check_version(doc.get("stac_version"), label),
        stac_extensions=check_extensions(doc.get("stac_extensions"), label),
        extra={k: v for k, v in doc.items() if k not in ITEM_MEMBERS},
        content_hash=content_hash(normalized),
        assets=[_asset(k, v, i, label) for i, (k, v) in enumerate(assets_doc.items())],
    )


def normalize_items(docs: Sequence[Any], collection_id: str | None = None) -> list[ItemRecord]:
    """Validate STAC 1.0/1.1 items and split them into table rows, in input order.

    ``collection_id`` is used for items without a ``collection`` member; an item that
    names another collection is refused. Geometries are parsed in one vectorized pass.
    Raises ``InvalidStac``, ``InvalidGeometry`` or ``InvalidDatetime`` naming the first
    offending item; nothing is returned for a batch with a bad item.
    """
    checked = [_check_item(doc, collection_id) for doc in docs]
    records = [_record(doc, label, coll, None) for doc, label, coll in checked]
    with_geometry = [i for i, (doc, _, _) in enumerate(checked) if doc.get("geometry")]
    geometries = parse_geometries(
        [checked[i][0]["geometry"] for i in with_geometry],
        [f"{checked[i][1]} geometry" for i in with_geometry],
    )
    wkbs = shapely.to_wkb(shapely.force_2d(geometries), hex=True) if geometries else []
    for index, geometry, wkb in zip(with_geometry, geometries, wkbs, strict=True):
        fields = {"geometry_wkb": wkb}
        if checked[index][0].get("bbox") is None:
            fields["bbox"] = geometry_bbox(geometry)
        records[index] = replace(records[index], **fields)
    return records


def normalize_item(doc: Any, collection_id: str | None = None) -> ItemRecord:
    """Validate one item (see ``normalize_items``)."""
    return normalize_items([doc], collection_id)[0]
