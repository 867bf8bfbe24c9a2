"""Opaque keyset cursors: the sort values of a boundary row, and the paging direction.

A token is base64url JSON carrying the values and a digest of the sort it belongs to,
so a token used with another sort is refused instead of silently skipping items.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from catalog.errors import InvalidCursor, InvalidDatetime
from catalog.search.fields import resolve_field
from catalog.search.sort import SortField
from catalog.temporal import format_rfc3339, parse_rfc3339

PageDirection = Literal["next", "prev"]


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (``next``) or before (``prev``) the given sort values."""

    direction: PageDirection
    values: tuple[Any, ...]


def _signature(sort: Sequence[SortField]) -> str:
    text = ",".join(f"{k.field}:{k.direction}" for k in sort)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _dump_value(value: Any) -> Any:
    return format_rfc3339(value) if isinstance(value, datetime) else value


def encode_cursor(cursor: Cursor, sort: Sequence[SortField]) -> str:
    """The opaque token for ``cursor`` under ``sort``."""
    payload = {
        "d": cursor.direction[0],
        "s": _signature(sort),
        "v": [_dump_value(v) for v in cursor.values],
    }
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _load_value(key: SortField, value: Any) -> Any:
    kind = resolve_field(key.field).kind
    if kind == "timestamp":
        return parse_rfc3339(value, field="token")
    if kind == "text" and not isinstance(value, str):
        raise InvalidCursor("the paging token is malformed")
    return value


def decode_cursor(token: str, sort: Sequence[SortField]) -> Cursor:
    """Read a token issued by ``encode_cursor`` for the same sort.

    Raises ``InvalidCursor`` for anything else (garbage, another sort, wrong shape).
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise InvalidCursor("the paging token is malformed") from exc
    if not isinstance(payload, dict) or payload.get("d") not in ("n", "p"):
        raise InvalidCursor("the paging token is malformed")
    if payload.get("s") != _signature(sort):
        raise InvalidCursor("the paging token belongs to a search with another sort order")
    values = payload.get("v")
    if not isinstance(values, list) or len(values) != len(sort):
        raise InvalidCursor("the paging token is malformed")
    try:
        loaded = tuple(_load_value(k, v) for k, v in zip(sort, values, strict=True))
    except InvalidDatetime as exc:
        raise InvalidCursor("the paging token is malformed") from exc
    return Cursor("next" if payload["d"] == "n" else "prev", loaded)
