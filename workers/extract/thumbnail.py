"""A small PNG preview of a raster, rendered from a decimated read (an overview when the
file has one), with invalid pixels transparent."""

from __future__ import annotations

import warnings

import numpy as np
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import DatasetReaderBase, MemoryFile

from workers.extract.dtypes import amplitude

DEFAULT_THUMBNAIL_SIZE = 256
"""Default longest side of a thumbnail, in pixels."""

THUMBNAIL_MEDIA_TYPE = "image/png"

_RGB = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)


def _display_bands(ds: DatasetReaderBase) -> list[int]:
    """Red, green and blue by colour interpretation; else the first three bands of a
    multi-band raster; else the first band alone."""
    interps = list(ds.colorinterp)
    if all(c in interps for c in _RGB):
        return [interps.index(c) + 1 for c in _RGB]
    data = [i for i, c in zip(ds.indexes, interps, strict=True) if c != ColorInterp.alpha]
    return data[:3] if len(data) >= 3 else data[:1]


def _shape(ds: DatasetReaderBase, max_size: int) -> tuple[int, int]:
    scale = min(1.0, max_size / max(ds.width, ds.height))
    return max(1, round(ds.height * scale)), max(1, round(ds.width * scale))


def _stretch(band: np.ma.MaskedArray) -> np.ndarray:
    """Scale the 2nd–98th percentile of the valid values to 0–255."""
    valid = np.ma.masked_invalid(band).compressed().astype("float64")
    if valid.size == 0:
        return np.zeros(band.shape, dtype="uint8")
    low, high = np.percentile(valid, [2, 98])
    span = high - low or 1.0
    scaled = (np.ma.filled(band.astype("float64"), low) - low) / span * 255.0
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).astype("uint8")


def _colours(ds: DatasetReaderBase, shape: tuple[int, int]) -> np.ndarray:
    """(bands, rows, cols) uint8 display values: a palette applied, 8-bit data as is,
    anything else (the amplitude of complex values) stretched."""
    indexes = _display_bands(ds)
    if len(indexes) == 1 and ds.colorinterp[indexes[0] - 1] == ColorInterp.palette:
        palette = ds.colormap(indexes[0])
        lookup = np.zeros((256, 3), dtype="uint8")
        for value, rgba in palette.items():
            if 0 <= value < 256:
                lookup[value] = rgba[:3]
        values = ds.read(indexes[0], out_shape=shape)
        return np.moveaxis(lookup[values], -1, 0)
    data = amplitude(ds.read(indexes, out_shape=(len(indexes), *shape), masked=True))
    if data.dtype == np.uint8:
        return np.ma.filled(data, 0).astype("uint8")
    return np.stack([_stretch(band) for band in data])


def render_thumbnail(ds: DatasetReaderBase, max_size: int = DEFAULT_THUMBNAIL_SIZE) -> bytes:
    """PNG bytes of at most ``max_size`` pixels a side: RGB or grey plus an alpha
    channel from the dataset mask."""
    shape = _shape(ds, max_size)
    colours = _colours(ds, shape)
    alpha = ds.dataset_mask(out_shape=shape).astype("uint8")[np.newaxis]
    image = np.concatenate([colours, alpha])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a PNG has no CRS
        with MemoryFile() as memory:
            with memory.open(
                driver="PNG", width=shape[1], height=shape[0], count=image.shape[0],
                dtype="uint8",
            ) as png:
                png.write(image)
            return bytes(memory.read())
