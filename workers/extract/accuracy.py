"""How far the reduced-resolution footprint is from the one every pixel gives.

The default footprint comes from a decimated read (:mod:`.sample`), read again finer
where its outline says it may be wrong (:mod:`.refine`); the reference is a
full scan of every pixel (:func:`.scan.scan_onto`) max-pooled onto the same grid and
traced on cells of the same size, so what differs is only what decimation misses or
adds. The measure is the geodesic area of their symmetric difference over the
reference's area. ``bench/extract.py`` reports it per shared raster and the tests hold
it to 1%.
"""

from __future__ import annotations

import pyproj
import shapely
from rasterio.io import DatasetReaderBase

from workers.extract.footprint import footprint_from_grid
from workers.extract.georef import georeference
from workers.extract.refine import reduced_grid
from workers.extract.sample import read_sample
from workers.extract.scan import DEFAULT_GRID_SIZE, sampled_grid_geometry, scan_onto

_GEOD = pyproj.Geod(ellps="WGS84")


def _area(geometry: dict) -> float:
    return abs(_GEOD.geometry_area_perimeter(shapely.geometry.shape(geometry))[0])


def footprint_error(
    ds: DatasetReaderBase, read_size: int = 1024, grid_size: int = DEFAULT_GRID_SIZE
) -> tuple[float, float]:
    """(symmetric difference / area, cell side in pixels) of the reduced-resolution
    footprint of ``ds`` against the full-scan footprint on the same cells. Raises as
    extraction does (``InvalidRaster``, ``UnreadableRaster``)."""
    georef = georeference(ds)
    sample = read_sample(ds, max(read_size, grid_size))
    reduced = footprint_from_grid(georef, reduced_grid(ds, sample, grid_size))
    geometry = sampled_grid_geometry(ds.width, ds.height, sample.shape, grid_size)
    full = footprint_from_grid(georef, scan_onto(ds, geometry), cell=reduced["cell"])
    a = shapely.geometry.shape(reduced["geometry"])
    b = shapely.geometry.shape(full["geometry"])
    difference = abs(_GEOD.geometry_area_perimeter(a.symmetric_difference(b))[0])
    return difference / _area(full["geometry"]), reduced["cell"]
