"""Per-band fields: the raster extension (v1.1.0) and the eo extension (v1.1.0).

Statistics come from the reduced-resolution read of :mod:`.sample` (at most
``max_size`` pixels a side, served from the closest overview when the file has
overviews): memory stays bounded whatever the raster's size. They describe the stored
values (before scale and offset; the amplitude of complex values), with nodata, masked
and non-finite values excluded.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyproj
from rasterio.enums import ColorInterp
from rasterio.io import DatasetReaderBase

from workers.extract.dtypes import stac_data_types
from workers.extract.georef import Georeference, georeference
from workers.extract.sample import Sample, read_sample

RASTER_SCHEMA = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
EO_SCHEMA = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"

DEFAULT_STATS_SIZE = 1024
"""Default longest side, in pixels, of the decimated read statistics come from."""

COMMON_NAMES = frozenset({
    "pan", "coastal", "blue", "green", "green05", "yellow", "red", "rededge", "rededge071",
    "rededge075", "rededge078", "nir", "nir08", "nir09", "cirrus", "swir16", "swir22",
    "lwir", "lwir11", "lwir12",
})
"""The eo extension's common band names."""

_GEOD = pyproj.Geod(ellps="WGS84")


def _nodata(value: float | None) -> float | str | None:
    """A nodata value as the raster extension writes it ("nan", "inf", "-inf")."""
    if value is None:
        return None
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    # Integers stay integers while a double holds them exactly (float32 nodata such as
    # 3.4e38 is "integral" but belongs in JSON as a float).
    exact = float(value).is_integer() and abs(value) < 2**53
    return int(value) if exact else float(value)


def spatial_resolution(georef: Georeference) -> float:
    """Metres on the ground between the centres of two neighbouring pixels at the
    raster's centre, averaged over both axes (geodesic distance on WGS84)."""
    cx, cy = georef.width / 2, georef.height / 2
    lon, lat = georef.to_lonlat(np.array([cx, cx + 1, cx]), np.array([cy, cy, cy + 1]))
    _, _, across = _GEOD.inv(lon[0], lat[0], lon[1], lat[1])
    _, _, down = _GEOD.inv(lon[0], lat[0], lon[2], lat[2])
    return round(float((across + down) / 2), 6)


def band_fields(
    ds: DatasetReaderBase,
    max_size: int = DEFAULT_STATS_SIZE,
    sample: Sample | None = None,
    georef: Georeference | None = None,
) -> list[dict[str, Any]]:
    """One ``raster:bands`` entry per band, in band order, with statistics from
    ``sample`` (else from a read of at most ``max_size`` pixels a side).

    ``spatial_resolution`` needs georeferencing, so this raises ``InvalidRaster`` for a
    raster without it; ``UnreadableRaster`` when the pixels do not decode.
    """
    resolution = spatial_resolution(georef or georeference(ds))
    sample = sample or read_sample(ds, max_size)
    sampling = ds.tags().get("AREA_OR_POINT", "").lower()
    data_types = stac_data_types(ds)
    bands = []
    for index in ds.indexes:
        i = index - 1
        band: dict[str, Any] = {"data_type": data_types[i], "spatial_resolution": resolution}
        nodata = _nodata(ds.nodatavals[i])
        if nodata is not None:
            band["nodata"] = nodata
        if sampling in ("area", "point"):
            band["sampling"] = sampling
        if ds.scales[i] != 1.0 or ds.offsets[i] != 0.0:
            band.update(scale=ds.scales[i], offset=ds.offsets[i])
        if ds.units[i]:
            band["unit"] = ds.units[i]
        band["statistics"] = sample.statistics[i]
        bands.append(band)
    return bands


def eo_bands(ds: DatasetReaderBase) -> list[dict[str, Any]]:
    """One ``eo:bands`` entry per band: name from the band description (else ``b<i>``),
    ``common_name`` when the description or colour interpretation is one."""
    bands = []
    for index, interp in zip(ds.indexes, ds.colorinterp, strict=True):
        description = (ds.descriptions[index - 1] or "").strip()
        band: dict[str, Any] = {"name": description or f"b{index}"}
        for candidate in (description.lower(), interp.name.lower()):
            if candidate in COMMON_NAMES:
                band["common_name"] = candidate
                break
        if interp not in (ColorInterp.undefined, ColorInterp.gray) and not description:
            band["description"] = interp.name
        bands.append(band)
    return bands
