"""Validation and normalization of STAC items into rows for the items and assets tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import shapely

from catalog.errors import InvalidDatetime, InvalidGeometry, InvalidStac
from catalog.geometry import parse_bbox, parse_geometries
from catalog.stac.common import (
    check_extensions,
    check_id,
    check_links,
    check_version,
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
ASSET_COLUMNS = frozenset({"href", "type", "title", "description", "roles"})
_OPTIONAL_STRINGS = ("type", "title", "description")
_STRING_OR_NULL = (str, type(None))
# An item document that passed the first checks, its label for errors and its collection.
Checked = tuple[dict[str, Any], str, str]


class AssetRecord(NamedTuple):
    """One row of the assets table."""

    key: str
    position: int
    href: str
    media_type: str | None
    title: str | None
    description: str | None
    roles: list[str]
    fields: dict[str, Any]


class ItemRecord(NamedTuple):
    """A validated item, split into the columns of the items table and its assets.

    ``geometry_wkb`` is the 2D geometry as hex WKB (longitude/latitude, EPSG:4326), and
    ``geometry_bounds`` its (west, south, east, north).
    Records are named tuples rather than dataclasses because a bulk load builds hundreds
    of thousands of them, and a frozen dataclass costs four times as much to create.
    """

    collection_id: str
    id: str
    geometry_wkb: str | None
    geometry_bounds: tuple[float, float, float, float] | None
    bbox: list[float] | None
    datetime: datetime
    start_datetime: dt.datetime  # (the field above shadows the class name)
    end_datetime: dt.datetime
    properties: dict[str, Any]
    links: list[dict[str, Any]]
    stac_version: str
    stac_extensions: list[str]
    extra: dict[str, Any]
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
    href = value.get("href") if isinstance(value, dict) else None
    if not isinstance(href, str):
        raise InvalidStac(f"{label}: asset {key!r} needs an 'href' string")
    roles = value.get("roles") or []
    if not isinstance(roles, list):
        raise InvalidStac(f"{label}: asset {key!r} roles must be an array of strings")
    for role in roles:  # a plain loop: all() over a generator costs twice as much here
        if not isinstance(role, str):
            raise InvalidStac(f"{label}: asset {key!r} roles must be an array of strings")
    media_type, title = value.get("type"), value.get("title")
    description = value.get("description")
    if not (
        isinstance(media_type, _STRING_OR_NULL)
        and isinstance(title, _STRING_OR_NULL)
        and isinstance(description, _STRING_OR_NULL)
    ):
        name = next(n for n in _OPTIONAL_STRINGS if not isinstance(value.get(n), _STRING_OR_NULL))
        raise InvalidStac(f"{label}: asset {key!r} '{name}' must be a string")
    fields = {k: v for k, v in value.items() if k not in ASSET_COLUMNS}
    return AssetRecord(key, position, href, media_type, title, description, roles, fields)


@lru_cache(maxsize=1024)
def _check_collection_id(value: str) -> None:
    """``check_id`` of a collection id, once per id: items of a batch share a few."""
    check_id(value, "collection")


def _check_item(doc: Any, collection_id: str | None) -> Checked:
    """Checks of everything but the geometry; returns (doc, label, collection)."""
    doc = require_dict(doc, "item")
    item_id = check_id(doc.get("id"), "item")
    label = f"item {item_id!r}"
    if doc.get("type") != "Feature":
        raise InvalidStac(f"{label}: 'type' must be 'Feature'")
    collection = doc.get("collection") or collection_id
    if collection is None:
        raise InvalidStac(f"{label}: the item names no collection")
    if type(collection) is str:
        _check_collection_id(collection)
    else:
        check_id(collection, "collection")
    if collection_id is not None and collection != collection_id:
        raise InvalidStac(f"{label} belongs to {collection!r}, not to {collection_id!r}")
    if not isinstance(doc.get("properties"), dict):
        raise InvalidStac(f"{label}: 'properties' must be an object")
    if doc.get("geometry") is None and doc.get("bbox") is not None:
        raise InvalidStac(f"{label}: an item without geometry must not have a bbox")
    return doc, label, collection


def _record(
    doc: dict[str, Any], label: str, collection: str, parsed: ParsedGeometry | None
) -> ItemRecord:
    props = doc["properties"]
    nominal, start, end = _time_range(props, label)
    bbox = doc.get("bbox")
    if bbox is not None:
        bbox = list(parse_bbox(bbox, label=f"{label} bbox"))
    elif parsed is not None:
        bbox = list(parsed.bounds)
    assets_doc = doc.get("assets") or {}
    if not isinstance(assets_doc, dict):
        raise InvalidStac(f"{label}: 'assets' must be an object")
    # Positional: a bulk load makes one per item, and keywords cost more.
    return ItemRecord(
        collection,
        doc["id"],
        None if parsed is None else parsed.wkb,
        None if parsed is None else parsed.bounds,
        bbox,
        nominal,
        start,
        end,
        props,
        check_links(doc.get("links"), label),
        check_version(doc.get("stac_version"), label),
        check_extensions(doc.get("stac_extensions"), label),
        {} if doc.keys() <= ITEM_MEMBERS else
        {k: v for k, v in doc.items() if k not in ITEM_MEMBERS},
        [_asset(k, v, i, label) for i, (k, v) in enumerate(assets_doc.items())],
    )


class ParsedGeometry(NamedTuple):
    """An item's geometry: its 2D hex WKB and (west, south, east, north) bounds."""

    wkb: str
    bounds: tuple[float, float, float, float]


def _geometries(
    checked: list[Checked],
) -> tuple[dict[int, ParsedGeometry], InvalidGeometry | None]:
    """The parsed geometries by item position, in one vectorized pass; or the geometry
    error, which the caller raises only after the other checks so that errors keep their
    order of precedence."""
    positions = [i for i, (doc, _, _) in enumerate(checked) if doc.get("geometry")]
    try:
        geometries = parse_geometries(
            [checked[i][0]["geometry"] for i in positions],
            [f"{checked[i][1]} geometry" for i in positions],
        )
    except InvalidGeometry as exc:
        return {}, exc
    if not geometries:
        return {}, None
    flat = shapely.force_2d(geometries) if shapely.has_z(geometries).any() else geometries
    wkbs = [wkb.hex() for wkb in shapely.to_wkb(flat)]  # 4 times faster than hex=True
    bounds = map(tuple, shapely.bounds(geometries).tolist())
    parsed = map(ParsedGeometry, wkbs, bounds)
    return dict(zip(positions, parsed, strict=True)), None


def normalize_items(docs: Sequence[Any], collection_id: str | None = None) -> list[ItemRecord]:
    """Validate STAC 1.0/1.1 items and split them into table rows, in input order.

    ``collection_id`` is used for items without a ``collection`` member; an item that
    names another collection is refused. Geometries are parsed in one vectorized pass.
    Raises ``InvalidStac``, ``InvalidGeometry`` or ``InvalidDatetime`` naming the first
    offending item (geometry errors come after every other check); nothing is returned
    for a batch with a bad item.
    """
    checked = [_check_item(doc, collection_id) for doc in docs]
    parsed, geometry_error = _geometries(checked)
    records = [
        _record(doc, label, coll, parsed.get(i)) for i, (doc, label, coll) in enumerate(checked)
    ]
    if geometry_error is not None:
        raise geometry_error
    return records


def normalize_item(doc: Any, collection_id: str | None = None) -> ItemRecord:
    """Validate one item (see ``normalize_items``)."""
    return normalize_items([doc], collection_id)[0]
