"""Validation and normalization of STAC collections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.errors import InvalidStac
from catalog.geometry import parse_bbox
from catalog.stac.common import (
    check_extensions,
    check_id,
    check_links,
    check_list,
    check_version,
    require_dict,
)
from catalog.temporal import parse_rfc3339


@dataclass(frozen=True, slots=True)
class CollectionRecord:
    """A validated collection and the columns of the collections table."""

    id: str
    title: str | None
    description: str
    license: str
    keywords: list[str]
    providers: list[dict[str, Any]]
    summaries: dict[str, Any]
    item_assets: dict[str, Any]
    links: list[dict[str, Any]]
    extent: dict[str, Any]
    temporal_start: datetime | None
    temporal_end: datetime | None
    content: dict[str, Any]


def _check_extent(extent: Any, label: str) -> tuple[datetime | None, datetime | None]:
    """Validate the extent; return the overall temporal bounds (None = open)."""
    if not isinstance(extent, dict):
        raise InvalidStac(f"{label}: 'extent' must be an object with spatial and temporal")
    spatial, temporal = extent.get("spatial"), extent.get("temporal")
    if not isinstance(spatial, dict) or not isinstance(spatial.get("bbox"), list):
        raise InvalidStac(f"{label}: extent.spatial.bbox must be an array of bboxes")
    if not spatial["bbox"]:
        raise InvalidStac(f"{label}: extent.spatial.bbox must not be empty")
    for box in spatial["bbox"]:
        parse_bbox(box, label=f"{label} extent.spatial.bbox")
    if not isinstance(temporal, dict) or not isinstance(temporal.get("interval"), list):
        raise InvalidStac(f"{label}: extent.temporal.interval must be an array of intervals")
    intervals = temporal["interval"]
    if not intervals:
        raise InvalidStac(f"{label}: extent.temporal.interval must not be empty")
    bounds: list[tuple[datetime | None, datetime | None]] = []
    for interval in intervals:
        if not isinstance(interval, list) or len(interval) != 2:
            raise InvalidStac(f"{label}: each temporal interval is a [start, end] pair")
        start, end = (
            None if v is None else parse_rfc3339(v, field=f"{label} extent.temporal")
            for v in interval
        )
        if start and end and start > end:
            raise InvalidStac(f"{label}: a temporal interval starts after it ends")
        bounds.append((start, end))
    return bounds[0]


def _served_version(version: str) -> str:
    """1.0.0 betas had no ``type`` on collections; once we add it, clients (pystac) only
    accept the document as 1.0.0, whose fields the betas already used."""
    return "1.0.0" if version.startswith("1.0.0-beta") else version


def normalize_collection(doc: Any) -> CollectionRecord:
    """Validate a STAC 1.0/1.1 collection (older 1.0 pre-releases without ``type`` too).

    Raises ``InvalidStac`` (or a subclass) naming the collection.
    """
    doc = require_dict(doc, "collection")
    collection_id = check_id(doc.get("id"), "collection")
    label = f"collection {collection_id!r}"
    kind = doc.get("type", "Collection")
    if kind != "Collection":
        raise InvalidStac(f"{label}: 'type' must be 'Collection', got {kind!r}")
    version = check_version(doc.get("stac_version"), label)
    description = doc.get("description")
    if not isinstance(description, str) or not description:
        raise InvalidStac(f"{label}: 'description' is required")
    license_ = doc.get("license", "other")
    if not isinstance(license_, str) or not license_:
        raise InvalidStac(f"{label}: 'license' must be a string")
    start, end = _check_extent(doc.get("extent"), label)
    keywords = check_list(doc.get("keywords"), label, "keywords")
    if not all(isinstance(k, str) for k in keywords):
        raise InvalidStac(f"{label}: 'keywords' must hold strings")
    for name in ("summaries", "item_assets"):
        if doc.get(name) is not None and not isinstance(doc[name], dict):
            raise InvalidStac(f"{label}: '{name}' must be an object")
    title = doc.get("title")
    if title is not None and not isinstance(title, str):
        raise InvalidStac(f"{label}: 'title' must be a string")
    content = {
        **doc,
        "type": "Collection",
        "stac_version": _served_version(version),
        "license": license_,
        "stac_extensions": check_extensions(doc.get("stac_extensions"), label),
    }
    return CollectionRecord(
        id=collection_id,
        title=title,
        description=description,
        license=license_,
        keywords=keywords,
        providers=check_list(doc.get("providers"), label, "providers"),
        summaries=doc.get("summaries") or {},
        item_assets=doc.get("item_assets") or {},
        links=check_links(doc.get("links"), label),
        extent=doc["extent"],
        temporal_start=start,
        temporal_end=end,
        content=content,
    )
