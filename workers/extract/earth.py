"""Which parts of a raster lie on the Earth.

A geostationary full disk, or any view of the globe from space (orthographic,
near-sided perspective projections), has corner pixels that look past the planet: no
longitude or latitude exists for them. Such a raster is not refused: its footprint is
its valid pixels *on the Earth*. Cells of the validity grid are kept when their centre
or a corner is on the Earth, and footprint vertices that fall past the limb are pulled
back onto it, along the line towards the middle of the visible disk, so every vertex has
a longitude and latitude. The visible part of the globe is convex in such projections,
which is what makes that pull well defined.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
from rasterio.crs import CRS

from workers.errors import InvalidRaster
from workers.extract.georef import WGS84, Georeference

_BISECTIONS = 40  # halvings of the pixel-space step to the limb: far below a pixel


@lru_cache(maxsize=16)
def _transformer(wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(wkt), 4326, always_xy=True)


def on_earth(crs: CRS, xs: np.ndarray, ys: np.ndarray, wkt: str | None = None) -> np.ndarray:
    """Whether each native position has a longitude and latitude (no error is raised
    for those that have none); ``wkt``: ``crs`` as WKT, when known."""
    if crs == WGS84:
        return np.isfinite(xs) & np.isfinite(ys)
    lon, lat = _transformer(wkt or crs.to_wkt()).transform(xs, ys, errcheck=False)
    return np.isfinite(lon) & np.isfinite(lat)


def _pixels_on_earth(georef: Georeference, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    xs, ys = georef.to_native(cols, rows)
    return on_earth(georef.crs, xs, ys, georef.crs_wkt)


def _outline_on_earth(georef: Georeference, cols: np.ndarray, rows: np.ndarray) -> bool:
    """Whether every outline position has a longitude and latitude, asked of GDAL as
    the footprint will be (building a PROJ transformer costs more than this check)."""
    try:
        georef.to_lonlat(cols, rows)
    except InvalidRaster:
        return False
    return True


@dataclass(frozen=True)
class EarthCells:
    """Cells of a validity grid that touch the Earth, and a pixel position near the
    middle of the visible Earth that vertices past the limb are pulled towards."""

    cells: np.ndarray
    anchor: tuple[float, float]


def earth_cells(
    georef: Georeference, shape: tuple[int, int], cell: tuple[float, float]
) -> EarthCells | None:
    """The cells (of a grid of ``shape`` cells of ``cell`` (width, height) pixels) on the Earth, or
    None when the whole raster is. Only the outline is sampled first: where the visible
    globe is convex, a raster with any pixel past the limb has one on its outline.

    Raises ``InvalidRaster`` when no cell is on the Earth.
    """
    rows, cols = shape
    edge_cols = np.minimum(np.arange(cols + 1) * cell[0], float(georef.width))
    edge_rows = np.minimum(np.arange(rows + 1) * cell[1], float(georef.height))
    top, bottom = np.zeros(cols + 1), np.full(cols + 1, float(georef.height))
    left, right = np.zeros(rows + 1), np.full(rows + 1, float(georef.width))
    outline_cols = np.concatenate([edge_cols, edge_cols, left, right])
    outline_rows = np.concatenate([top, bottom, edge_rows, edge_rows])
    if _outline_on_earth(georef, outline_cols, outline_rows):
        return None
    corner_cols, corner_rows = np.meshgrid(edge_cols, edge_rows)
    corners = _pixels_on_earth(georef, corner_cols, corner_rows)
    centre_cols, centre_rows = np.meshgrid(
        (edge_cols[:-1] + edge_cols[1:]) / 2, (edge_rows[:-1] + edge_rows[1:]) / 2
    )
    centres = _pixels_on_earth(georef, centre_cols, centre_rows)
    cells = centres | corners[:-1, :-1] | corners[1:, :-1] | corners[:-1, 1:] | corners[1:, 1:]
    if not centres.any():
        raise InvalidRaster("none of its pixels lies on the Earth")
    anchor = (float(centre_cols[centres].mean()), float(centre_rows[centres].mean()))
    if not _pixels_on_earth(georef, np.array([anchor[0]]), np.array([anchor[1]]))[0]:
        # The visible Earth is not convex here: any cell centre on it will do.
        index = np.argwhere(centres)[len(np.argwhere(centres)) // 2]
        anchor = (float(centre_cols[tuple(index)]), float(centre_rows[tuple(index)]))
    return EarthCells(cells, anchor)


def pull_onto_earth(
    georef: Georeference, cols: np.ndarray, rows: np.ndarray, anchor: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions with those past the limb moved onto it, along the segment
    towards ``anchor`` (found by bisection, on the Earth's side)."""
    off = ~_pixels_on_earth(georef, cols, rows)
    if not off.any():
        return cols, rows
    ax, ay = anchor
    inside = np.zeros(int(off.sum()))  # fraction of the way from the anchor: on Earth
    outside = np.ones_like(inside)  # ... and past the limb
    px, py = cols[off], rows[off]
    for _ in range(_BISECTIONS):
        middle = (inside + outside) / 2
        ok = _pixels_on_earth(georef, ax + (px - ax) * middle, ay + (py - ay) * middle)
        inside = np.where(ok, middle, inside)
        outside = np.where(ok, outside, middle)
    cols, rows = cols.copy(), rows.copy()
    cols[off] = ax + (px - ax) * inside
    rows[off] = ay + (py - ay) * inside
    return cols, rows
