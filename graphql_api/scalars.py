"""Custom scalars: ``GeoJSON`` (a validated geometry) and ``JSON``."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON

from catalog.errors import InvalidGeometry
from catalog.geometry import check_search_area

__all__ = ["JSON", "SCALARS", "GeoJSON"]


def _parse_geojson(value: Any) -> dict[str, Any]:
    """Accept a well-formed GeoJSON geometry object only. Its validity (and any repair)
    is checked by ``build_search``, in a thread: this runs on the event loop."""
    if not isinstance(value, dict):
        raise ValueError("a GeoJSON geometry must be an object")
    try:
        check_search_area(value)
    except InvalidGeometry as exc:
        raise ValueError(exc.message) from exc
    return value


GeoJSON = NewType("GeoJSON", dict)

SCALARS = {
    GeoJSON: strawberry.scalar(
        name="GeoJSON",
        description="A GeoJSON geometry object (RFC 7946), in EPSG:4326 longitude/latitude.",
        serialize=lambda value: value,
        parse_value=_parse_geojson,
    ),
}
"""The schema's ``scalar_map``."""
