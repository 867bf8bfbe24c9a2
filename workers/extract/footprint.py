"""The footprint of a raster's valid data as a GeoJSON geometry and bbox in EPSG:4326.

The footprint is traced in pixel space on the validity grid of :mod:`.scan`, simplified
and then grown by the simplification tolerance (so it still covers every valid pixel),
densified, mapped to the native CRS and then to longitude/latitude. Rings that cross
the antimeridian are split there and rings around a pole are closed over it (the
``antimeridian`` package), so the result is a valid RFC 7946 geometry whose bbox has
west > east when it crosses the antimeridian.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from itertools import pairwise
from typing import Any

import antimeridian
import numpy as np
import orjson
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import shapes
from rasterio.io import DatasetReaderBase
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from workers.errors import InvalidRaster
from workers.extract.earth import earth_cells, pull_onto_earth
from workers.extract.georef import (
    Georeference,
    georeference,
    lonlat_to_native,
    native_to_lonlat,
)
from workers.extract.scan import DEFAULT_GRID_SIZE, ValidGrid, max_pool, scan_valid

MAX_VERTICES = 1000
"""Simplification is coarsened until the footprint has at most this many vertices."""

EDGE_BUDGET = 4 * MAX_VERTICES
"""A validity grid whose outline has more cell edges than this is coarsened before it
is traced: tracing and simplifying a speckled mask costs far more than its detail is
worth in a footprint of ``MAX_VERTICES`` vertices."""

EDGE_SEGMENTS = 32
"""A footprint edge is densified to at most 1/EDGE_SEGMENTS of the raster's longer side,
so curved edges (a UTM rectangle seen in longitude/latitude) keep their shape."""


def footprint(ds: DatasetReaderBase, max_size: int = DEFAULT_GRID_SIZE) -> dict[str, Any]:
    """``{"geometry": GeoJSON, "bbox": [west, south, east, north]}`` of the valid data.

    Reads every pixel once (see :func:`.scan.scan_valid`). Raises ``InvalidRaster``
    (not georeferenced, not on Earth, no valid pixel, footprint outside the CRS's
    domain) or ``UnreadableRaster`` (pixels that do not decode).
    """
    georef = georeference(ds)
    grid = scan_valid(ds, max_size)
    return footprint_from_grid(georef, grid)


def footprint_from_grid(
    georef: Georeference, grid: ValidGrid, cell: float | None = None
) -> dict[str, Any]:
    """The footprint for an already scanned raster (see :func:`footprint`): its valid
    pixels on the Earth (see :mod:`.earth` for rasters that look past the planet), and
    the side in pixels of the cells it was traced on (``"cell"``).

    With ``cell``, the footprint is traced on cells of that size (the grid max-pooled
    by powers of 2) however many vertices it keeps: to compare footprints cell for cell.
    """
    max_vertices: int | None = MAX_VERTICES
    if cell is None:
        grid = coarsened(grid)
    else:
        grid, max_vertices = coarsened(grid, cell), None
    try:
        return _located(georef, grid, max_vertices, None)
    except InvalidRaster:
        # Part of the raster has no longitude and latitude: if it looks past the
        # Earth, keep what is on it (checked only now: most rasters never need it).
        earth = earth_cells(georef, grid.cells.shape, grid.cell_size)
        if earth is None:
            raise
    cells = grid.cells & earth.cells
    if not cells.any():
        raise InvalidRaster("none of its valid pixels lies on the Earth")
    return _located(georef, dataclasses.replace(grid, cells=cells), max_vertices, earth.anchor)


def _located(
    georef: Georeference, grid: ValidGrid, max_vertices: int | None, anchor: Anchor
) -> dict[str, Any]:
    """Trace ``grid`` and map it to EPSG:4326 (vertices past the limb pulled onto it
    towards ``anchor``, when given)."""
    pixels, traced_cell = traced_footprint(grid, georef.width, georef.height, max_vertices)
    # Past the limb, vertices are pulled onto it: dense enough to follow its curve.
    step = min(grid.cell_size) / 2 if anchor is not None else None
    geometry, crossed = lonlat_footprint(georef, pixels, anchor, step)
    return {
        "geometry": orjson.loads(shapely.to_geojson(geometry)),
        "bbox": footprint_bbox(geometry, crossed),
        "cell": traced_cell,
    }


def _outline_edges(cells: np.ndarray) -> int:
    return int(
        np.count_nonzero(cells[:, 1:] != cells[:, :-1])
        + np.count_nonzero(cells[1:] != cells[:-1])
    )


def coarsened(grid: ValidGrid, cell: float | None = None) -> ValidGrid:
    """``grid`` max-pooled by 2 until its outline has at most ``EDGE_BUDGET`` cell
    edges, or until its cells are ``cell`` pixels wide (a coarser cell is valid when any
    cell under it is: coverage holds)."""
    cells, (width, height) = grid.cells, grid.cell_size

    def coarser() -> bool:
        if cell is not None:
            return max(width, height) < cell * 0.999
        return _outline_edges(cells) > EDGE_BUDGET

    while coarser() and min(cells.shape) > 1:
        cells, width, height = max_pool(cells, 2), 2 * width, 2 * height
    if cells is grid.cells:
        return grid
    return dataclasses.replace(grid, cells=cells, factor=2 * grid.factor, cell=(width, height))


def pixel_footprint(grid: ValidGrid, width: int, height: int) -> BaseGeometry:
    """The valid area in pixel coordinates (column, row), simplified to at most
    ``MAX_VERTICES`` vertices and still covering every valid grid cell."""
    return traced_footprint(grid, width, height)[0]


def _trace(cells: np.ndarray, cell: tuple[float, float]) -> BaseGeometry:
    scale = Affine.scale(*cell)
    coords: list[tuple[float, float]] = []
    ring_of: list[int] = []
    part_of: list[int] = []
    for part, (traced, _) in enumerate(shapes(cells.astype("uint8"), mask=cells, transform=scale)):
        for ring in traced["coordinates"]:
            coords += ring
            ring_of += [len(part_of)] * len(ring)
            part_of.append(part)
    if not coords:
        return MultiPolygon()
    # All rings, then all polygons, built in two vectorized calls (not one per part).
    rings = shapely.linearrings(np.asarray(coords, dtype=float), indices=ring_of)
    parts = list(shapely.polygons(rings, indices=part_of))
    # Traced regions are disjoint (they touch at corners at most): no union needed.
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def traced_footprint(
    grid: ValidGrid, width: int, height: int, max_vertices: int | None = MAX_VERTICES
) -> tuple[BaseGeometry, float]:
    """:func:`pixel_footprint`, and the side (in pixels) of the cells it was traced on.

    A footprint that keeps more than ``max_vertices`` vertices after simplifying is
    traced again on the grid max-pooled by 2 (a coarser cell is valid when any cell
    under it is): holes and gaps narrower than a cell fill up, as a morphological
    closing would, at the cost of a trace of a grid four times smaller.
    """
    outline = box(0, 0, width, height)
    cells, cell = grid.cells, grid.cell_size
    while True:
        area = _trace(cells, cell).intersection(outline)
        tolerance = max(cell)
        simplified = area.simplify(tolerance, preserve_topology=True)
        if max_vertices is None or max(cells.shape) == 1:
            break
        if shapely.get_num_coordinates(simplified) <= max_vertices:
            break
        cells, cell = max_pool(cells, 2), (2 * cell[0], 2 * cell[1])
    if simplified.equals(area):
        return area, tolerance
    # Simplifying moves edges by about the tolerance: growing by it restores coverage.
    # Topology-preserving simplification can move a small part further; what is still
    # left out is added back as it is.
    grown = simplified.buffer(tolerance, join_style="mitre", mitre_limit=2.0)
    if not grown.covers(area):
        grown = grown.union(area.difference(grown))
    return grown.intersection(outline), tolerance


def _polygons(geometry: BaseGeometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry] if not geometry.is_empty else []
    return [g for g in getattr(geometry, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


Anchor = tuple[float, float] | None


def _ring_to_native(
    georef: Georeference, ring: Any, max_segment: float, anchor: Anchor
) -> np.ndarray:
    dense = shapely.segmentize(shapely.LineString(ring.coords), max_segment)
    cols, rows = shapely.get_coordinates(dense).T
    if anchor is not None:
        cols, rows = pull_onto_earth(georef, cols, rows, anchor)
    xs, ys = georef.to_native(cols, rows)
    return np.column_stack([xs, ys])


def _flip_probe(native: Polygon) -> np.ndarray:
    """Three native points inside ``native``: one and a small step east and north of it."""
    point = native.representative_point()
    step = max(native.length / 1000, 1e-9)
    return np.array([[point.x, point.y], [point.x + step, point.y], [point.x, point.y + step]])


def _is_flipped(lon: np.ndarray, lat: np.ndarray) -> bool:
    """Whether native → lon/lat mirrors the plane at the probe of :func:`_flip_probe`
    (negative Jacobian), as for CRSs with south- or west-pointing axes."""
    dlon = (lon[1:] - lon[0] + 180.0) % 360.0 - 180.0
    dlat = lat[1:] - lat[0]
    return bool(dlon[0] * dlat[1] - dlon[1] * dlat[0] < 0)


def _poles_inside(georef: Georeference, native: Polygon) -> tuple[bool, bool]:
    """(north, south): whether the native polygon strictly contains a pole. Only a
    projected CRS maps a pole to a point that a ring can go around."""
    if not georef.crs.is_projected:
        return False, False
    north, south = _native_poles(georef.crs.to_wkt())
    return (
        north is not None and native.contains(shapely.Point(north)),
        south is not None and native.contains(shapely.Point(south)),
    )


@lru_cache(maxsize=64)
def _native_poles(wkt: str) -> tuple[tuple[float, float] | None, ...]:
    """Native coordinates of the north and south poles (None outside the CRS's
    domain), once per CRS: every polygon of a footprint asks."""
    crs = CRS.from_wkt(wkt)
    return tuple(lonlat_to_native(crs, 0.0, lat) for lat in (90.0, -90.0))


def _ring_points(lon: np.ndarray, lat: np.ndarray, flip: bool) -> list[tuple[float, float]]:
    lon = np.where(np.abs(lon) > 180.0, (lon + 180.0) % 360.0 - 180.0, lon)
    lat = np.clip(lat, -90.0, 90.0)
    points = list(zip(lon.tolist(), lat.tolist(), strict=True))
    return points[::-1] if flip else points


def _native_polygon(
    georef: Georeference, polygon: Polygon, max_segment: float, anchor: Anchor
) -> Polygon:
    """A pixel-space polygon densified, in native coordinates, counter-clockwise."""
    shell = _ring_to_native(georef, polygon.exterior, max_segment, anchor)
    holes = [_ring_to_native(georef, r, max_segment, anchor) for r in polygon.interiors]
    return shapely.geometry.polygon.orient(Polygon(shell, holes), 1.0)


LonLat = tuple[np.ndarray, np.ndarray]


def _batch_lonlat(crs: Any, arrays: list[np.ndarray]) -> list[LonLat]:
    """Longitude/latitude of several (n, 2) native arrays in one transformation (GDAL
    builds a coordinate transformation per call, which costs more than the points)."""
    joined = np.concatenate(arrays)
    lon, lat = native_to_lonlat(crs, joined[:, 0], joined[:, 1])
    cuts = np.cumsum([len(a) for a in arrays])[:-1]
    return list(zip(np.split(lon, cuts), np.split(lat, cuts), strict=True))


def _lonlat_polygon(
    georef: Georeference, native: Polygon, lonlats: list[LonLat]
) -> tuple[BaseGeometry, bool]:
    """One native polygon in EPSG:4326, and whether it crossed the antimeridian;
    ``lonlats`` holds its flip probe, exterior and interiors in longitude/latitude."""
    north, south = (
        _poles_inside(georef, native) if _may_hold_a_pole(lonlats[1][0]) else (False, False)
    )
    flip = _is_flipped(*lonlats[0])
    exterior = _ring_points(*lonlats[1], flip)
    interiors = [_ring_points(lon, lat, flip) for lon, lat in lonlats[2:]]
    crossed = any(_crosses(ring) for ring in [exterior, *interiors])
    if not (crossed or north or south):
        # Nothing to split or close: the antimeridian package (a Python loop over
        # vertices) would hand the polygon back unchanged.
        return Polygon(exterior, interiors), False
    fixed = antimeridian.fix_polygon(
        Polygon(exterior, interiors),
        force_north_pole=north,
        force_south_pole=south,
        fix_winding=False,
        great_circle=False,
    )
    return fixed, crossed


def _may_hold_a_pole(lon: np.ndarray) -> bool:
    """Whether the closed ring of longitudes ``lon`` may go around a pole: its steps add
    up to a full turn, or one is too long to tell its direction. Most rings do neither,
    and then the poles are not looked up in the native CRS (two PROJ transformations
    per CRS, a few milliseconds)."""
    steps = (np.diff(lon) + 180.0) % 360.0 - 180.0
    return bool(np.abs(steps).max(initial=0.0) > 90.0 or abs(float(steps.sum())) > 180.0)


def _crosses(ring: list[tuple[float, float]]) -> bool:
    """Whether consecutive vertices jump more than 180° of longitude (the ring crosses
    the antimeridian)."""
    lons = np.array([lon for lon, _ in ring])
    return bool((np.abs(np.diff(lons)) > 180.0).any())


def _valid(parts: list[Polygon]) -> BaseGeometry:
    geometry: BaseGeometry = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    if not geometry.is_valid:
        # Parts that overlap (grown back after simplifying) are unioned: GEOS's
        # "structure" repair does that, in about half the time of the default.
        repaired = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
        parts = [p for g in shapely.get_parts(repaired) for p in _polygons(g)]
        if not parts:
            raise InvalidRaster("its footprint collapses to nothing in EPSG:4326")
        geometry = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    if isinstance(geometry, Polygon):
        return shapely.geometry.polygon.orient(geometry, 1.0)
    return MultiPolygon([shapely.geometry.polygon.orient(p, 1.0) for p in geometry.geoms])


def lonlat_footprint(
    georef: Georeference,
    pixels: BaseGeometry,
    anchor: Anchor = None,
    max_segment: float | None = None,
) -> tuple[BaseGeometry, bool]:
    """Map a pixel-space footprint to a valid, counter-clockwise (Multi)Polygon in
    EPSG:4326, split at the antimeridian; the flag says whether a ring crossed it.

    Edges are densified to ``max_segment`` pixels (default: 1/``EDGE_SEGMENTS`` of the
    longer side); with an ``anchor``, vertices past the Earth's limb are pulled onto it
    (see :func:`.earth.pull_onto_earth`).
    """
    longest = max(georef.width, georef.height) / EDGE_SEGMENTS
    max_segment = min(longest, max_segment) if max_segment else longest
    natives = [_native_polygon(georef, p, max_segment, anchor) for p in _polygons(pixels)]
    if not natives:
        raise InvalidRaster("its valid data has no area to make a footprint from")
    arrays: list[np.ndarray] = []
    for native in natives:
        arrays.append(_flip_probe(native))
        arrays.append(np.asarray(native.exterior.coords))
        arrays.extend(np.asarray(ring.coords) for ring in native.interiors)
    lonlats = _batch_lonlat(georef.crs, arrays)
    parts: list[Polygon] = []
    crossed = False
    start = 0
    for native in natives:
        count = 2 + len(native.interiors)
        fixed, crossing = _lonlat_polygon(georef, native, lonlats[start : start + count])
        start += count
        parts.extend(_polygons(fixed))
        crossed = crossed or crossing
    if not parts:
        raise InvalidRaster("its valid data has no area to make a footprint from")
    return _valid(parts), crossed


def footprint_bbox(geometry: BaseGeometry, crossed: bool) -> list[float]:
    """``[west, south, east, north]`` of a lon/lat footprint.

    Unless the footprint crossed the antimeridian this is its plain bounds (a raster
    in longitude/latitude spanning -180..180 touches both edges without crossing).
    Otherwise west and east bound the shortest longitude span that covers every part,
    found as the complement of the widest empty gap around the circle; west > east
    when that span contains the antimeridian (RFC 7946, section 5.2).
    """
    west, south, east, north = (float(v) for v in geometry.bounds)
    if not crossed:
        return [west, south, east, north]
    spans = sorted((float(p.bounds[0]), float(p.bounds[2])) for p in _polygons(geometry))
    merged: list[list[float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    # The gap across the antimeridian, then the gaps between merged spans.
    gaps = [(merged[0][0] + 360.0 - merged[-1][1], merged[-1][1], merged[0][0])]
    gaps += [(b[0] - a[1], a[1], b[0]) for a, b in pairwise(merged)]
    width, gap_start, gap_end = max(gaps)
    if width <= 0.0:
        return [-180.0, south, 180.0, north]
    return [gap_end, south, gap_start, north]
