"""GeoJSON geometries and bboxes: parsing, validity, antimeridian handling.

Coordinates are longitude/latitude in EPSG:4326 throughout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import shapely
import shapely.errors
from shapely.geometry.base import BaseGeometry

from catalog.errors import InvalidBbox, InvalidGeometry

GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)

MAX_AREA_POSITIONS = 10_000
"""Positions (vertices) a search area may have, as sent or once repaired."""
MAX_REPAIR_POSITIONS = 100
"""Positions of the largest self-intersecting search area that is repaired rather than
refused. Repair time grows with the square of the crossings (issue 16: a 20,000-vertex
bowtie grew a worker to 22 GB, 250 vertices took 13 s with GEOS' default method); with
the "structure" method and this bound, the worst shapes we know (star polygons, zigzag
grids) take under 0.05 s and repair to fewer than ``MAX_AREA_POSITIONS``."""

MAX_COLLECTION_NESTING = 8
"""GeometryCollections inside one another (RFC 7946 3.1.8: nesting SHOULD be avoided);
deeper ones overflowed orjson's and Python's recursion limits (issue 16)."""

# Nesting depth of "coordinates" for each GeoJSON type.
_DEPTH = {
    "Point": 1,
    "MultiPoint": 2,
    "LineString": 2,
    "MultiLineString": 3,
    "Polygon": 3,
    "MultiPolygon": 4,
}


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list | tuple):
        if not value:
            return depth + 1
        depth += 1
        value = value[0]
    return depth


def _check_structure(geojson: Any, label: str, nesting: int = 0) -> None:
    if not isinstance(geojson, dict):
        raise InvalidGeometry(f"{label}: a GeoJSON geometry object is required")
    kind = geojson.get("type")
    if kind not in GEOMETRY_TYPES:
        raise InvalidGeometry(f"{label}: unknown geometry type {kind!r}")
    if kind == "GeometryCollection":
        members = geojson.get("geometries")
        if not isinstance(members, list | tuple):
            raise InvalidGeometry(f"{label}: a GeometryCollection needs 'geometries'")
        if nesting >= MAX_COLLECTION_NESTING:
            raise InvalidGeometry(
                f"{label}: GeometryCollections nested more than {MAX_COLLECTION_NESTING} deep"
            )
        for member in members:
            _check_structure(member, label, nesting + 1)
        return
    coords = geojson.get("coordinates")
    # Tuples too: pydantic GeoJSON models (stac-fastapi's request bodies) dump positions
    # as tuples, and ``_depth`` already reads them as arrays.
    if not isinstance(coords, list | tuple):
        raise InvalidGeometry(f"{label}: {kind} needs a 'coordinates' array")
    if _depth(coords) != _DEPTH[kind]:
        raise InvalidGeometry(
            f"{label}: the coordinates are not nested as a {kind} requires"
        )


def _check_rings_closed(geojson: dict[str, Any], label: str) -> None:
    kind = geojson["type"]
    polygons = []
    if kind == "Polygon":
        polygons = [geojson["coordinates"]]
    elif kind == "MultiPolygon":
        polygons = geojson["coordinates"]
    elif kind == "GeometryCollection":
        for member in geojson["geometries"]:
            _check_rings_closed(member, label)
    for polygon in polygons:
        for ring in polygon:
            if len(ring) < 4:
                raise InvalidGeometry(f"{label}: a polygon ring needs at least 4 positions")
            if list(ring[0][:2]) != list(ring[-1][:2]):
                raise InvalidGeometry(f"{label}: a polygon ring is not closed")


def _check_geometry(geometry: BaseGeometry | None, label: str) -> BaseGeometry:
    if geometry is None or geometry.is_empty:
        raise InvalidGeometry(f"{label}: the geometry is empty")
    coords = shapely.get_coordinates(geometry)
    if not np.isfinite(coords).all():
        raise InvalidGeometry(f"{label}: coordinates must be finite numbers")
    if (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
        raise InvalidGeometry(f"{label}: coordinates are outside longitude/latitude ranges")
    return geometry


def _single_ring_polygons(geojsons: Sequence[Any]) -> np.ndarray | None:
    """The geometries built straight from their coordinates when every one is a
    polygon without holes, with well-formed numeric positions of one dimension and a
    closed ring: the footprints of nearly every item. None for anything else, which
    the GeoJSON reader of GEOS then parses (and refuses with the reason).

    Bulk loads spend a third of the time of reading GeoJSON in serializing it for that
    reader; arrays of coordinates skip it.
    """
    rings = []
    for geojson in geojsons:
        if type(geojson) is not dict or geojson.get("type") != "Polygon":
            return None
        coordinates = geojson.get("coordinates")
        if type(coordinates) is not list or len(coordinates) != 1:
            return None
        ring = coordinates[0]
        if type(ring) is not list or len(ring) < 4:
            return None
        rings.append(ring)
    positions = [position for ring in rings for position in ring]
    try:
        # JSON booleans would pass for numbers in an array of floats.
        if not {type(v) for position in positions for v in position} <= {float, int}:
            return None
        if any(ring[0][:2] != ring[-1][:2] for ring in rings):
            return None
        coords = np.array(positions, dtype=float)
    except (TypeError, ValueError, OverflowError):  # not lists, ragged, out of range
        return None
    if coords.ndim != 2 or coords.shape[1] not in (2, 3):
        return None
    indices = np.repeat(np.arange(len(rings)), [len(ring) for ring in rings])
    return shapely.polygons(shapely.linearrings(coords, indices=indices))


def parse_geometries(
    geojsons: Sequence[Any], labels: Sequence[str]
) -> list[BaseGeometry]:
    """Parse many GeoJSON geometries at once into valid shapely geometries.

    Vectorized through GEOS, so bulk loads pay microseconds per geometry. Raises
    ``InvalidGeometry`` naming the first offending ``labels`` entry when an object is
    malformed, a ring is not closed, a coordinate is not finite or outside lon/lat
    ranges, or the geometry is invalid (self-intersection, spike...).
    """
    geometries = _single_ring_polygons(geojsons)
    if geometries is None:
        for geojson, label in zip(geojsons, labels, strict=True):
            _check_structure(geojson, label)
            _check_rings_closed(geojson, label)
        try:
            geometries = shapely.from_geojson([orjson.dumps(g) for g in geojsons])
        except shapely.errors.GEOSException as exc:
            label = labels[0] if len(labels) == 1 else "geometry"
            raise InvalidGeometry(f"{label}: {exc}") from exc
    bad_coords = ~np.isfinite(shapely.bounds(geometries)).all(axis=1)
    valid = shapely.is_valid(geometries)
    for index in np.flatnonzero(bad_coords | ~valid).tolist():
        _check_geometry(geometries[index], labels[index])
        reason = shapely.is_valid_reason(geometries[index])
        raise InvalidGeometry(f"{labels[index]}: invalid geometry ({reason})")
    bounds = shapely.bounds(geometries)
    out_of_range = (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (
        np.abs(bounds[:, [1, 3]]) > 90
    ).any(axis=1)
    for index in np.flatnonzero(out_of_range).tolist():
        _check_geometry(geometries[index], labels[index])
    return list(geometries)


def parse_geometry(geojson: Any, *, label: str = "geometry") -> BaseGeometry:
    """Parse one GeoJSON geometry into a valid shapely geometry (see ``parse_geometries``)."""
    return parse_geometries([geojson], [label])[0]


def _positions(geojson: dict[str, Any]) -> int:
    """How many positions a structurally checked GeoJSON geometry holds."""
    kind = geojson["type"]
    if kind == "GeometryCollection":
        return sum(_positions(member) for member in geojson["geometries"])
    if kind == "Point":
        return 1
    coords = geojson["coordinates"]
    for _ in range(_DEPTH[kind] - 2):  # down to one list of positions
        coords = [part for parts in coords for part in parts]
    return len(coords)


def check_search_area(geojson: Any, *, label: str = "intersects") -> int:
    """The checks of a search area that need no geometry engine: a GeoJSON geometry
    object, closed rings, at most ``MAX_AREA_POSITIONS`` positions. Returns how many
    positions it has; raises ``InvalidGeometry`` naming ``label`` otherwise."""
    _check_structure(geojson, label)
    try:
        _check_rings_closed(geojson, label)
        positions = _positions(geojson)
    except (TypeError, KeyError, IndexError) as exc:  # ragged arrays below the first
        raise InvalidGeometry(
            f"{label}: the coordinates are not nested as GeoJSON requires"
        ) from exc
    if positions > MAX_AREA_POSITIONS:
        raise InvalidGeometry(
            f"{label}: {positions} positions; a search area may have at most {MAX_AREA_POSITIONS}"
        )
    return positions


def parse_search_area(geojson: Any, *, label: str = "intersects") -> BaseGeometry:
    """Parse a GeoJSON geometry used as a search area; a small self-intersecting one is
    repaired.

    Areas are often drawn by hand, and other STAC servers search with them as given, so an
    invalid-but-well-formed polygon (bowtie, spike) of at most ``MAX_REPAIR_POSITIONS``
    positions is made valid with GEOS ``make_valid`` (its "structure" method: the area the
    rings enclose) instead of refused. Larger invalid areas, malformed GeoJSON, unclosed
    rings, more than ``MAX_AREA_POSITIONS`` positions and out-of-range coordinates raise
    ``InvalidGeometry``. Stored item geometries stay strict (``parse_geometries``).
    Repairing costs CPU (up to some 0.05 s): callers on an event loop run this in a thread.
    """
    positions = check_search_area(geojson, label=label)
    try:
        geometry = shapely.from_geojson(orjson.dumps(geojson))
    except shapely.errors.GEOSException as exc:
        raise InvalidGeometry(f"{label}: {exc}") from exc
    geometry = _check_geometry(geometry, label)
    if geometry.is_valid:
        return geometry
    if positions > MAX_REPAIR_POSITIONS:
        reason = shapely.is_valid_reason(geometry)
        raise InvalidGeometry(
            f"{label}: invalid geometry ({reason}); only areas of at most "
            f"{MAX_REPAIR_POSITIONS} positions are repaired, send a valid one"
        )
    repaired = shapely.make_valid(geometry, method="structure")
    if shapely.get_num_coordinates(repaired) > MAX_AREA_POSITIONS:
        raise InvalidGeometry(
            f"{label}: the repaired area has more than {MAX_AREA_POSITIONS} positions; "
            "send a valid geometry"
        )
    return repaired


def parse_bbox(values: Sequence[Any], *, label: str = "bbox") -> tuple[float, ...]:
    """Validate a 2D (4 numbers) or 3D (6 numbers) bbox and return it as floats.

    A west edge greater than the east edge means the box crosses the antimeridian.
    """
    if type(values) is list and len(values) == 4 and all(type(v) is float for v in values):
        # The common case, checked without the conversions below.
        west, south, east, north = values
        if (
            -180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90
        ):
            return tuple(values)
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidBbox(f"{label}: a list of 4 or 6 numbers is required")
    if len(values) not in (4, 6):
        raise InvalidBbox(f"{label}: {len(values)} numbers given, 4 or 6 are required")
    # float(True) is 1.0: a JSON boolean must not pass for a coordinate.
    if any(isinstance(v, bool) for v in values):
        raise InvalidBbox(f"{label}: every value must be a number")
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise InvalidBbox(f"{label}: every value must be a number") from exc
    if not all(math.isfinite(v) for v in numbers):
        raise InvalidBbox(f"{label}: every value must be finite")
    west, south, east, north = bbox_2d(numbers)
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise InvalidBbox(f"{label}: longitudes must lie within [-180, 180]")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise InvalidBbox(f"{label}: latitudes must lie within [-90, 90]")
    if south > north:
        raise InvalidBbox(f"{label}: the south edge {south} is north of the north edge {north}")
    if len(numbers) == 6 and numbers[2] > numbers[5]:
        raise InvalidBbox(f"{label}: the minimum elevation is above the maximum")
    return numbers


def bbox_2d(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a 2D or 3D bbox."""
    if len(bbox) == 6:
        return bbox[0], bbox[1], bbox[3], bbox[4]
    return bbox[0], bbox[1], bbox[2], bbox[3]


def bbox_boxes(bbox: Sequence[float]) -> list[tuple[float, float, float, float]]:
    """The bbox as one or two lon/lat rectangles, split at the antimeridian if it crosses."""
    west, south, east, north = bbox_2d(bbox)
    if west <= east:
        return [(west, south, east, north)]
    return [(west, south, 180.0, north), (-180.0, south, east, north)]


def bbox_polygon(bbox: Sequence[float]) -> BaseGeometry:
    """The area a bbox covers as a (multi)polygon, split at the antimeridian."""
    boxes = [shapely.box(*box) for box in bbox_boxes(bbox)]
    return boxes[0] if len(boxes) == 1 else shapely.MultiPolygon(boxes)


def geometry_bbox(geometry: BaseGeometry) -> list[float]:
    """The 2D bounds [west, south, east, north] of a shapely geometry."""
    return [float(v) for v in geometry.bounds]
