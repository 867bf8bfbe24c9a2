"""Absolute links for STAC documents, built from the request's base URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

STRUCTURAL_RELS = frozenset({"self", "root", "parent", "child", "item", "items", "collection"})
"""Relations an API (or a static catalog) writes itself: never stored, always rebuilt."""
JSON = "application/json"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
# Relations that name endpoints of an API. A collection loaded from another API keeps
# that API's links of these relations (its queryables...), which clients would follow
# off-site: the links of this API replace them.
API_RELS = frozenset({
    QUERYABLES, "aggregate", "aggregations", "search", "conformance", "data",
    "service-desc", "service-doc", "next", "prev",
})


def _link(rel: str, href: str, media_type: str = JSON, **extra: Any) -> dict[str, Any]:
    return {"rel": rel, "type": media_type, "href": href, **extra}


def kept_links(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's own links, without the structural ones the API writes itself."""
    return [link for link in doc.get("links") or [] if link.get("rel") not in STRUCTURAL_RELS]


def without_structural_links(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with only its own links: the form a document is stored in."""
    return {**doc, "links": kept_links(doc)}


def collection_url(base: str, collection_id: str) -> str:
    """URL of a collection."""
    return f"{base}collections/{quote(collection_id, safe='')}"


def item_url(base: str, collection_id: str, item_id: str) -> str:
    """URL of an item."""
    return f"{collection_url(base, collection_id)}/items/{quote(item_id, safe='')}"


def with_collection_links(doc: dict[str, Any], base: str) -> dict[str, Any]:
    """The collection document with self, root, parent, items, queryables, aggregate
    and aggregations links of this API; its own links to other APIs' endpoints (see
    ``API_RELS``) are left out."""
    url = collection_url(base, doc["id"])
    links = [
        _link("self", url),
        _link("root", base),
        _link("parent", base),
        _link("items", f"{url}/items", GEOJSON),
        _link(QUERYABLES, f"{url}/queryables", SCHEMA_JSON, title="Queryables"),
        _link("aggregate", f"{url}/aggregate", title="Aggregate"),
        _link("aggregations", f"{url}/aggregations", title="Aggregations"),
        *(link for link in kept_links(doc) if link.get("rel") not in API_RELS),
    ]
    return {**doc, "links": links}


def item_links(base: str, collection_id: str, item_id: str) -> list[dict[str, Any]]:
    """The self, root, parent and collection links of an item."""
    collection = collection_url(base, collection_id)
    return [
        _link("self", item_url(base, collection_id, item_id), GEOJSON),
        _link("root", base),
        _link("parent", collection),
        _link("collection", collection),
    ]


def with_item_links(doc: dict[str, Any], base: str) -> dict[str, Any]:
    """The item document with self, root, parent and collection links."""
    links = [*item_links(base, doc["collection"], doc["id"]), *kept_links(doc)]
    return {**doc, "links": links}
