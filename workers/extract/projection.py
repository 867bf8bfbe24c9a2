"""Fields of the STAC projection extension (v2.0.0) for a raster.

https://github.com/stac-extensions/projection: ``proj:code`` names the CRS by
authority and code ("EPSG:32618", "ESRI:102039"); a CRS without one is given as WKT2 and
PROJJSON instead, with ``proj:code`` null. A raster georeferenced only by RPCs has no
native CRS, so it gets only ``proj:shape``, ``proj:centroid`` and a null code.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import numpy as np
import pyproj
from rasterio.crs import CRS
from rasterio.io import DatasetReaderBase

from workers.extract.georef import Georeference, georeference

PROJECTION_SCHEMA = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"

CODE = "proj:code"
WKT2 = "proj:wkt2"
PROJJSON = "proj:projjson"
SHAPE = "proj:shape"
TRANSFORM = "proj:transform"
BBOX = "proj:bbox"
CENTROID = "proj:centroid"

# pyproj's "likely the same CRS" threshold, as rasterio's CRS.to_epsg() uses: it
# matches a GeoTIFF's key-encoded CRS (e.g. NSIDC's polar stereographic) to its code.
MIN_CONFIDENCE = 70


def crs_fields(crs: CRS) -> dict[str, Any]:
    """``proj:code`` when the CRS has an authority code, else WKT2 and PROJJSON."""
    return copy.deepcopy(dict(_crs_fields(crs.to_wkt())))  # callers may edit PROJJSON


@lru_cache(maxsize=64)
def _crs_fields(wkt: str) -> tuple[tuple[str, Any], ...]:
    # GDAL's matcher (through rasterio) finds the same codes as pyproj's at the same
    # confidence in a third of the time; rasters of one collection share their CRSs.
    authority = CRS.from_wkt(wkt).to_authority(confidence_threshold=MIN_CONFIDENCE)
    if authority is not None:
        return ((CODE, f"{authority[0]}:{authority[1]}"),)
    native = pyproj.CRS.from_wkt(wkt)
    return (
        (CODE, None),
        (WKT2, native.to_wkt("WKT2_2019")),
        (PROJJSON, native.to_json_dict()),
    )


def _outline_bbox(georef: Georeference) -> list[float]:
    """Native bounds of the raster outline (edges sampled, so GCP warps count)."""
    steps = np.linspace(0.0, 1.0, 21)
    w, h = georef.width, georef.height
    cols = np.concatenate([steps * w, np.full(21, w), steps[::-1] * w, np.zeros(21)])
    rows = np.concatenate([np.zeros(21), steps * h, np.full(21, h), steps[::-1] * h])
    xs, ys = georef.to_native(cols, rows)
    return [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())]


def centroid(georef: Georeference) -> dict[str, float]:
    """``{"lat", "lon"}`` of the raster's central position, in EPSG:4326 degrees."""
    lon, lat = georef.to_lonlat(np.array([georef.width / 2]), np.array([georef.height / 2]))
    return {"lat": round(float(lat[0]), 7), "lon": round(float(lon[0]), 7)}


def projection_fields(ds: DatasetReaderBase) -> dict[str, Any]:
    """The ``proj:*`` fields of a dataset; raises ``InvalidRaster`` as
    :func:`.georef.georeference` does."""
    return projection_fields_for(georeference(ds))


def projection_fields_for(georef: Georeference) -> dict[str, Any]:
    """The ``proj:*`` fields for an already resolved georeference."""
    fields: dict[str, Any] = {SHAPE: [georef.height, georef.width]}
    if georef.kind == "rpcs":
        fields[CODE] = None
    else:
        fields.update(crs_fields(georef.crs))
        fields[BBOX] = _outline_bbox(georef)
    if georef.transform is not None:
        fields[TRANSFORM] = [float(v) for v in georef.transform]
    fields[CENTROID] = centroid(georef)
    return fields
