"""Checks shared by item and collection documents."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson

from catalog.errors import InvalidStac

SUPPORTED_VERSION = re.compile(r"^1\.[01]\.\d+(-[0-9A-Za-z.]+)?$")
_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,1024}$")


def require_dict(doc: Any, what: str) -> dict[str, Any]:
    """The document as a dict, or ``InvalidStac`` saying what was expected."""
    if not isinstance(doc, dict):
        raise InvalidStac(f"a STAC {what} must be a JSON object, got {type(doc).__name__}")
    return doc


def check_id(value: Any, what: str) -> str:
    """A non-empty id of at most 1024 printable characters."""
    if not isinstance(value, str) or not _ID.match(value) or value.strip() != value:
        raise InvalidStac(f"{what} id {value!r} must be a non-empty string without control "
                          "characters or surrounding spaces")
    return value


def check_version(value: Any, label: str) -> str:
    """The stac_version, which must be 1.0.x or 1.1.x (pre-releases of them included)."""
    if not isinstance(value, str) or not SUPPORTED_VERSION.match(value):
        raise InvalidStac(f"{label}: stac_version {value!r} is not supported (1.0 and 1.1 are)")
    return value


def check_list(value: Any, label: str, field: str) -> list[Any]:
    """An optional JSON array; missing means empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidStac(f"{label}: '{field}' must be an array")
    return value


def check_links(value: Any, label: str) -> list[dict[str, Any]]:
    """Links: an array of objects that each have an ``href`` string."""
    links = check_list(value, label, "links")
    for link in links:
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            raise InvalidStac(f"{label}: every link needs an 'href' string")
    return links


def check_extensions(value: Any, label: str) -> list[str]:
    """stac_extensions: an array of schema URI strings."""
    extensions = check_list(value, label, "stac_extensions")
    if not all(isinstance(e, str) for e in extensions):
        raise InvalidStac(f"{label}: 'stac_extensions' must hold strings")
    return extensions


def dumps(value: Any) -> str:
    """Compact JSON text (integers beyond 64 bits included, which orjson refuses)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)


def content_hash(doc: Any) -> str:
    """A digest of the document that ignores key order, for idempotent upserts."""
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
