"""How a raster's pixels map to the Earth: a geotransform, ground control points or RPCs.

Every extraction step goes through :func:`georeference`, so a raster without any of the
three, or in a CRS that is not on Earth, is refused once, with the reason, and never
falls back to a whole-world footprint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal

import numpy as np
import pyproj
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.io import DatasetReaderBase
from rasterio.transform import GCPTransformer, RPCTransformer
from rasterio.warp import transform as warp_transform

from workers.errors import InvalidRaster

Kind = Literal["transform", "gcps", "rpcs"]

WGS84 = CRS.from_epsg(4326)

# Semi-major axes of the Earth's ellipsoids and spheres in use lie within this range
# (metres); Mars (3,396 km) or the Moon (1,737 km) do not.
_EARTH_RADIUS = (6_300_000.0, 6_400_000.0)


@dataclass(frozen=True)
class Georeference:
    """Pixel → native CRS mapping of a dataset.

    ``crs`` is the CRS of the native coordinates (EPSG:4326 for RPCs, which give
    longitude and latitude); ``transform`` is set only for an affine geotransform.
    Pixel coordinates are (column, row) of pixel corners: (0, 0) is the outer corner of
    the first pixel, (width, height) that of the last.
    """

    kind: Kind
    crs: CRS
    width: int
    height: int
    transform: Affine | None = None
    gcp_transformer: GCPTransformer | None = None
    rpc_transformer: RPCTransformer | None = None

    @cached_property
    def crs_wkt(self) -> str:
        """``crs`` as WKT, exported once (rasterio exports it again at every call, 0.25 ms:
        11 ms of the off-Earth checks of a geostationary disk)."""
        return self.crs.to_wkt()

    def to_native(self, cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Native coordinates of pixel positions (arrays of the same shape)."""
        cols, rows = np.asarray(cols, dtype="float64"), np.asarray(rows, dtype="float64")
        if self.transform is not None:
            t = self.transform
            return t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
        transformer = self.gcp_transformer or self.rpc_transformer
        assert transformer is not None
        # offset="ul" keeps the positions as given: they already are corner coordinates.
        xs, ys = transformer.xy(rows.ravel(), cols.ravel(), offset="ul")
        return np.asarray(xs).reshape(cols.shape), np.asarray(ys).reshape(cols.shape)

    def to_lonlat(self, cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (EPSG:4326, degrees) of pixel positions; raises
        ``InvalidRaster`` when one lies outside the CRS's domain."""
        xs, ys = self.to_native(cols, rows)
        return native_to_lonlat(self.crs, xs, ys)


def native_to_lonlat(crs: CRS, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of native coordinates, through GDAL as every GDAL tool
    reads them (GIS axis order: some polar CRSs read otherwise through plain PROJ).

    Raises ``InvalidRaster`` when a point cannot be transformed (off the Earth's disk in
    a geostationary view, beyond a projection's domain).
    """
    xs, ys = np.asarray(xs, dtype="float64"), np.asarray(ys, dtype="float64")
    if crs == WGS84:
        return xs, ys
    try:
        lon, lat = warp_transform(crs, WGS84, xs.ravel(), ys.ravel())
    except (RasterioError, CPLE_BaseError) as exc:
        raise InvalidRaster(
            "part of it lies outside the area its CRS can express in EPSG:4326 (e.g. off "
            f"the Earth's disk), so no footprint can be computed: {exc}"
        ) from exc
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise InvalidRaster("part of it cannot be expressed in EPSG:4326")
    return lon.reshape(xs.shape), lat.reshape(ys.shape)


def lonlat_to_native(crs: CRS, lon: float, lat: float) -> tuple[float, float] | None:
    """Native coordinates of one lon/lat point, or None outside the CRS's domain."""
    try:
        xs, ys = warp_transform(WGS84, crs, [lon], [lat])
    except (RasterioError, CPLE_BaseError):
        return None
    point = (float(xs[0]), float(ys[0]))
    return point if np.isfinite(point).all() else None


def check_earth_crs(crs: CRS) -> CRS:
    """``crs`` itself, refused with ``InvalidRaster`` unless it lies on Earth."""
    problem = _earth_crs_problem(crs.to_wkt())
    if problem:
        raise InvalidRaster(problem)
    return crs


# GDAL's WKT1 names the CRS first and gives the ellipsoid's semi-major axis in metres.
_WKT1_NAME = re.compile(r'^[A-Z_]+\["([^"]*)"')
_WKT1_SEMI_MAJOR = re.compile(r'SPHEROID\["[^"]*",\s*([0-9.eE+-]+)')


def _semi_major(wkt: str) -> tuple[str, float | None]:
    """(name, semi-major axis in metres) of a CRS: read off GDAL's WKT1 when it has a
    SPHEROID (a regular expression costs microseconds, parsing the CRS milliseconds),
    else from pyproj."""
    name, radius = _WKT1_NAME.match(wkt), _WKT1_SEMI_MAJOR.search(wkt)
    if name and radius:
        return name.group(1) or "unnamed", float(radius.group(1))
    native = pyproj.CRS.from_wkt(wkt)
    ellipsoid = native.ellipsoid
    return native.name or "unnamed", ellipsoid.semi_major_metre if ellipsoid else None


@lru_cache(maxsize=64)
def _earth_crs_problem(wkt: str) -> str | None:
    """Why a CRS is not on Earth, or None (cached: rasters of a collection share CRSs)."""
    try:
        name, radius = _semi_major(wkt)
    except pyproj.exceptions.CRSError as exc:
        return f"its CRS cannot be interpreted: {exc}"
    if radius is None or not (_EARTH_RADIUS[0] <= radius <= _EARTH_RADIUS[1]):
        return (
            f"its CRS {name!r} is not an Earth CRS (semi-major axis {radius} m); the "
            "catalog locates items on Earth in EPSG:4326"
        )
    return None


def georeference(ds: DatasetReaderBase) -> Georeference:
    """The dataset's georeferencing, preferring a geotransform over GCPs over RPCs.

    Raises ``InvalidRaster`` when the dataset has none of them (a plain image, a TIFF
    with only a pixel grid) or when its CRS is not on Earth.
    """
    gcps, gcp_crs = ds.gcps
    if ds.crs is not None and not _is_pixel_grid(ds.transform):
        crs = check_earth_crs(ds.crs)
        return Georeference("transform", crs, ds.width, ds.height, ds.transform)
    if gcps and gcp_crs is not None:
        if len(gcps) < 3:
            raise InvalidRaster(f"it has {len(gcps)} ground control points; at least 3 needed")
        crs = check_earth_crs(gcp_crs)
        return Georeference(
            "gcps", crs, ds.width, ds.height, gcp_transformer=GCPTransformer(gcps)
        )
    if ds.rpcs is not None:
        return Georeference(
            "rpcs", WGS84, ds.width, ds.height, rpc_transformer=RPCTransformer(ds.rpcs)
        )
    if ds.crs is not None:
        raise InvalidRaster("it has a CRS but no geotransform, GCPs or RPCs")
    raise InvalidRaster(
        "it is not georeferenced (no CRS with a geotransform, no GCPs, no RPCs)"
    )


def _is_pixel_grid(transform: Affine) -> bool:
    """Whether the geotransform is GDAL's default for an image without georeferencing."""
    return transform.almost_equals(Affine.identity())
