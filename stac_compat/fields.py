"""The Fields extension: include / exclude members of the returned items."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from catalog.errors import InvalidInput

MAX_FIELDS = 100
"""Members ``fields`` may name: each is applied to every returned item, on the event loop."""

# Always kept so the result stays a valid GeoJSON feature with its STAC identity.
_ALWAYS = ("type", "stac_version", "id", "collection", "links")
_DEFAULT = (*_ALWAYS, "stac_extensions", "geometry", "bbox", "assets", "properties.datetime")


def parse_fields(fields: Iterable[str] | None) -> tuple[set[str], set[str]]:
    """(include, exclude) from the ``fields`` parameter (``+a``/``a`` include, ``-a`` exclude)."""
    include: set[str] = set()
    exclude: set[str] = set()
    for raw in fields or ():
        for field in (f.strip() for f in raw.split(",")):
            if not field:
                continue
            if field.startswith("-"):
                exclude.add(field[1:])
            else:
                include.add(field.lstrip("+"))
            check_field_count(include, exclude)
    return include, exclude


def check_field_count(include: set[str], exclude: set[str]) -> None:
    """Refuse more than ``MAX_FIELDS`` members to include or exclude."""
    if len(include) + len(exclude) > MAX_FIELDS:
        raise InvalidInput(f"fields: more than {MAX_FIELDS} members")


def _pick(doc: dict[str, Any], path: list[str]) -> Any:
    value: Any = doc
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _put(out: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        out = out.setdefault(part, {})
    out[path[-1]] = value


def _drop(doc: dict[str, Any], path: list[str]) -> None:
    for part in path[:-1]:
        doc = doc.get(part)
        if not isinstance(doc, dict):
            return
    doc.pop(path[-1], None)


def apply_fields(item: dict[str, Any], include: set[str], exclude: set[str]) -> dict[str, Any]:
    """The item with only the included members, then without the excluded ones.

    With neither set the item is returned as is. ``id`` and the other identity members
    are never removed.
    """
    if not include and not exclude:
        return item
    keep = (set(_DEFAULT) | include) if include else None
    if keep is None:
        out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in item.items()}
    else:
        out = {}
        for field in sorted(keep | set(_ALWAYS), key=len):
            value = _pick(item, field.split("."))
            if value is not None:
                _put(out, field.split("."), value)
    for field in exclude - set(_ALWAYS) - include:
        _drop(out, field.split("."))
    return out
