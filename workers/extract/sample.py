"""One reduced-resolution read of every band, which statistics, the validity grid of the
footprint and the thumbnail are all computed from.

The read is at most ``max_size`` pixels a side; GDAL serves it from the closest overview
when the file has overviews (nearest-neighbour decimation otherwise), so its cost hardly
grows with the raster's size, and a raster no larger than ``max_size`` is read whole, at
full resolution. Bands are read one at a time (a hyperspectral cube never sits in memory
whole); only the bands a thumbnail shows are kept.

Validity follows GDAL's masks: a band's pixel is valid unless it equals the band's
nodata value or its mask (internal mask, alpha band) says otherwise; a pixel of the
dataset is valid where a per-dataset mask (internal mask, alpha band) says so, else
when any band's is. Nodata is compared here, on the values just read,
because asking GDAL for a nodata mask reads the pixels a second time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from rasterio.enums import MaskFlags
from rasterio.errors import RasterioError
from rasterio.io import DatasetReaderBase

from workers.errors import UnreadableRaster
from workers.extract.dtypes import amplitude


@dataclass
class Sample:
    """A reduced-resolution view of a raster: shape (rows, cols), dataset validity,
    per-band statistics and the values of the bands kept for display."""

    shape: tuple[int, int]
    valid: np.ndarray
    statistics: list[dict[str, float]] = field(default_factory=list)
    display: dict[int, np.ndarray] = field(default_factory=dict)

    def decimation(self, width: int) -> float:
        """Full-resolution pixels per sampled pixel along a row (1.0: full resolution)."""
        return width / self.shape[1]


def sample_shape(width: int, height: int, max_size: int) -> tuple[int, int]:
    """(rows, cols) of a read whose longer side is at most ``max_size``."""
    factor = max(1.0, max(width, height) / max_size)
    return max(1, math.ceil(height / factor - 1e-9)), max(1, math.ceil(width / factor - 1e-9))


_HISTOGRAM_TYPES = (np.uint8, np.int8, np.uint16, np.int16)


def _histogram_moments(picked: np.ndarray) -> tuple[float, float, float, float]:
    """(min, max, mean, stddev) of 8- or 16-bit integers from their histogram: one
    counting pass instead of float conversions and three reductions."""
    low = int(np.iinfo(picked.dtype).min)
    counts = np.bincount(picked.astype(np.int32) - low if low else picked)
    values = np.flatnonzero(counts)
    weights = counts[values].astype("float64")
    values = values.astype("float64") + low
    total = weights.sum()
    mean = float((weights * values).sum() / total)
    stddev = math.sqrt(float((weights * (values - mean) ** 2).sum() / total))
    return float(values[0]), float(values[-1]), mean, stddev


def statistics(values: np.ndarray, valid: np.ndarray | None) -> dict[str, float]:
    """minimum, maximum, mean, stddev and valid_percent of a band's values (of the
    amplitude, for complex values), with invalid and non-finite values left out."""
    picked = amplitude(values if valid is None else values[valid]).ravel()
    if picked.dtype.kind == "f":
        picked = picked[np.isfinite(picked)]
    stats: dict[str, float] = {"valid_percent": round(100.0 * picked.size / values.size, 4)}
    if not picked.size:
        return stats
    if picked.dtype.type in _HISTOGRAM_TYPES:
        minimum, maximum, mean, stddev = _histogram_moments(picked)
    else:
        as_float = picked.astype("float64", copy=False)
        minimum, maximum = float(picked.min()), float(picked.max())
        mean, stddev = float(as_float.mean()), float(as_float.std())
    stats.update(minimum=minimum, maximum=maximum, mean=mean, stddev=stddev)
    return stats


def _nodata_valid(values: np.ndarray, nodata: float) -> np.ndarray:
    if math.isnan(nodata):
        return ~np.isnan(values)
    if np.issubdtype(values.dtype, np.integer):
        info = np.iinfo(values.dtype)
        if not (info.min <= nodata <= info.max) or not float(nodata).is_integer():
            return np.ones(values.shape, dtype=bool)  # no stored value can equal it
    return values != np.asarray(nodata).astype(values.dtype)


def _band_valid(
    ds: DatasetReaderBase, index: int, values: np.ndarray, shared: np.ndarray | None
) -> np.ndarray | None:
    """Where band ``index`` is valid (None: everywhere)."""
    flags = ds.mask_flag_enums[index - 1]
    if flags == [MaskFlags.all_valid]:
        return None
    nodata = ds.nodatavals[index - 1]
    if flags == [MaskFlags.nodata] and nodata is not None:
        return _nodata_valid(values, nodata)
    if MaskFlags.per_dataset in flags and shared is not None:
        return shared
    return ds.read_masks(index, out_shape=values.shape) > 0


def _read_bands(
    ds: DatasetReaderBase, shape: tuple[int, int]
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """(index, values, band validity or None, per-dataset mask or None) of every band
    read at ``shape``, one band at a time."""
    shared: np.ndarray | None = None  # a per-dataset mask, read once for all bands
    try:
        if any(MaskFlags.per_dataset in f for f in ds.mask_flag_enums):
            shared = ds.read_masks(1, out_shape=shape) > 0
        for index in ds.indexes:
            values = ds.read(index, out_shape=shape)
            yield index, values, _band_valid(ds, index, values, shared), shared
    except (RasterioError, MemoryError) as exc:
        raise UnreadableRaster(f"reading its pixels failed: {exc}") from exc


def _combine(dataset: np.ndarray, valid: np.ndarray | None, shared: np.ndarray | None) -> None:
    """Add a band's validity to the dataset's, in place."""
    if shared is not None:
        dataset[...] = shared  # an alpha band's own mask says nothing
    elif valid is None:
        dataset[...] = True
    else:
        dataset |= valid


def read_sample(
    ds: DatasetReaderBase, max_size: int, display: tuple[int, ...] = ()
) -> Sample:
    """Read every band at most ``max_size`` pixels a side: statistics of each band,
    the dataset's validity, and the values of the ``display`` bands.

    Raises ``UnreadableRaster`` when GDAL cannot decode the pixels it needs.
    """
    shape = sample_shape(ds.width, ds.height, max_size)
    sample = Sample(shape, np.zeros(shape, dtype=bool))
    for index, values, valid, shared in _read_bands(ds, shape):
        sample.statistics.append(statistics(values, valid))
        _combine(sample.valid, valid, shared)
        if index in display:
            sample.display[index] = values
    return sample
