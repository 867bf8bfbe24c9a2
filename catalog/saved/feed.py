"""A saved search as an Atom feed (RFC 4287): its latest matching items, newest change
first, one entry per item whose id and ``updated`` change with the item."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.saved.records import SavedSearchRecord
from catalog.search.render import item_json, items
from catalog.search.request import SearchRequest
from catalog.search.where import where_clauses

ATOM = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
GEOJSON_MEDIA_TYPE = "application/geo+json"
FEED_SIZE = 50


async def latest_matches(
    session: AsyncSession, request: SearchRequest, limit: int = FEED_SIZE
) -> list[Any]:
    """The items matching ``request`` most recently written, newest first: rows of
    ``item`` (the STAC document) and ``changed_at``."""
    query = (
        select(item_json().label("item"), items.c.updated_at.label("changed_at"))
        .where(*where_clauses(request))
        .order_by(items.c.updated_at.desc(), items.c.collection_id, items.c.id)
        .limit(limit)
    )
    with translate_db_errors():
        return list((await session.execute(query)).all())


def _text(parent: ElementTree.Element, tag: str, value: str, **attributes: str) -> None:
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    element.text = value


def _entry(feed: ElementTree.Element, row: Any, item_url: str) -> None:
    item = row.item
    entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
    changed: datetime = row.changed_at
    _text(entry, "id", f"{item_url}#{changed.isoformat()}")
    properties = item.get("properties") or {}
    _text(entry, "title", str(properties.get("title") or item["id"]))
    _text(entry, "updated", changed.isoformat())
    ElementTree.SubElement(entry, f"{{{ATOM}}}link", {
        "rel": "alternate", "type": GEOJSON_MEDIA_TYPE, "href": item_url,
    })
    summary = f"{item['collection']}/{item['id']}"
    if properties.get("datetime"):
        summary += f", acquired {properties['datetime']}"
    _text(entry, "summary", summary)


def atom_feed(
    search: SavedSearchRecord, rows: Sequence[Any], feed_url: str, items_url: str
) -> bytes:
    """The Atom document of ``rows`` (from :func:`latest_matches`); ``items_url`` is the
    API's ``/collections`` URL, items link to ``<items_url>/<collection>/items/<id>``."""
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", f"urn:uuid:{search.id}")
    _text(feed, "title", search.name)
    newest = rows[0].changed_at if rows else search.updated_at
    _text(feed, "updated", newest.isoformat())
    ElementTree.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": feed_url})
    author = ElementTree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "stacql")
    for row in rows:
        item = row.item
        path = f"{quote(item['collection'], safe='')}/items/{quote(item['id'], safe='')}"
        _entry(feed, row, f"{items_url}/{path}")
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
