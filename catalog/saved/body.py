"""Saved search bodies: the STAC search members a saved search keeps, validated once."""

from __future__ import annotations

from typing import Any

import orjson

from catalog.errors import InvalidSavedSearch
from catalog.search import build_search
from catalog.search.request import SearchRequest
from catalog.search.where import where_clauses

SAVED_FIELDS = frozenset(
    {"collections", "ids", "bbox", "intersects", "datetime", "filter", "filter-lang", "query"}
)
"""The search members a saved search keeps (paging, sorting and fields belong to reads)."""

MAX_BODY_BYTES = 256 * 1024
MAX_NAME_LENGTH = 200


def check_name(name: Any) -> str:
    """``name`` stripped, if it is a non-empty string of at most ``MAX_NAME_LENGTH``
    characters; ``InvalidSavedSearch`` otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidSavedSearch("a saved search needs a non-empty name")
    if len(name) > MAX_NAME_LENGTH or "\x00" in name:
        raise InvalidSavedSearch(f"a saved search name has at most {MAX_NAME_LENGTH} characters")
    return name.strip()


def _kwargs(body: dict[str, Any]) -> dict[str, Any]:
    return {name.replace("-", "_"): value for name, value in body.items()}


def search_request(
    body: dict[str, Any], readable_private: frozenset[str] | None, limit: int = 10
) -> SearchRequest:
    """The search request of a stored body, seeing what ``readable_private`` allows.

    Parsing repairs geometries and may take a while: call it off the event loop."""
    return build_search(**_kwargs(body), limit=limit, readable_private=readable_private)


def check_search_body(body: Any) -> dict[str, Any]:
    """``body`` if it is a valid search of ``SAVED_FIELDS`` members; otherwise
    ``InvalidSavedSearch``, or the ``InvalidInput`` subclass naming the bad member
    (``INVALID_FILTER``, ``INVALID_BBOX``...)."""
    if not isinstance(body, dict):
        raise InvalidSavedSearch("a saved search's search must be a JSON object")
    unknown = set(body) - SAVED_FIELDS
    if unknown:
        shown = ", ".join(repr(name)[:40] for name in sorted(unknown)[:5])
        raise InvalidSavedSearch(
            f"a saved search takes {', '.join(sorted(SAVED_FIELDS))}; not {shown}"
        )
    try:
        text = orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        raise InvalidSavedSearch("the search holds text that is not valid Unicode") from exc
    if len(text) > MAX_BODY_BYTES or b"\\u0000" in text:
        raise InvalidSavedSearch(
            f"the search must be under {MAX_BODY_BYTES} bytes of JSON without NUL characters"
        )
    # Operators and properties are only checked when the filter is compiled to SQL.
    where_clauses(search_request(body, frozenset()))
    return body
