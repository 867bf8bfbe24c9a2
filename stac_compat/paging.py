"""The next/prev links of STAC Item Search pages (GET and POST paging)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from catalog.stac.links import GEOJSON


def page_link(rel: str, url: str, params: dict[str, Any], token: str) -> dict[str, Any]:
    """A next/prev link for GET paging: the same query with a new token."""
    query = {k: v for k, v in params.items() if k != "token"}
    query["token"] = token
    return {"rel": rel, "type": GEOJSON, "href": f"{url}?{urlencode(query, doseq=True)}",
            "method": "GET"}


def post_page_link(rel: str, url: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    """A next/prev link for POST paging: the same body with a new token."""
    return {"rel": rel, "type": GEOJSON, "href": url, "method": "POST",
            "body": {**body, "token": token}, "merge": False}
