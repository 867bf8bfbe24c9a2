"""A small PNG preview of a raster, resampled from the reduced-resolution read the other
fields come from (:mod:`.sample`) or from a decimated read of its own (an overview when
the file has one), with invalid pixels transparent."""

from __future__ import annotations

import struct
import zlib

import numpy as np
from rasterio.enums import ColorInterp
from rasterio.io import DatasetReaderBase

from workers.extract.dtypes import amplitude
from workers.extract.sample import Sample

DEFAULT_THUMBNAIL_SIZE = 256
"""Default longest side of a thumbnail, in pixels."""

THUMBNAIL_MEDIA_TYPE = "image/png"

_RGB = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)


def display_bands(ds: DatasetReaderBase) -> list[int]:
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


def _resize(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resampling of a 2-D array to ``shape`` (no Python loop)."""
    rows = ((np.arange(shape[0]) + 0.5) * values.shape[0] / shape[0]).astype(int)
    cols = ((np.arange(shape[1]) + 0.5) * values.shape[1] / shape[1]).astype(int)
    return values[np.ix_(rows, cols)]


def _stretch(band: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Scale the 2nd–98th percentile of the valid, finite values to 0–255."""
    values = band.astype("float64")
    usable = valid & np.isfinite(values)
    if not usable.any():
        return np.zeros(band.shape, dtype="uint8")
    low, high = np.percentile(values[usable], [2, 98])
    span = high - low or 1.0
    scaled = (np.where(usable, values, low) - low) / span * 255.0
    return np.clip(scaled, 0, 255).astype("uint8")


def _colours(
    ds: DatasetReaderBase, indexes: list[int], bands: list[np.ndarray], valid: np.ndarray
) -> np.ndarray:
    """(bands, rows, cols) uint8 display values: a palette applied, 8-bit data as is,
    anything else (the amplitude of complex values) stretched."""
    if len(indexes) == 1 and ds.colorinterp[indexes[0] - 1] == ColorInterp.palette:
        palette = ds.colormap(indexes[0])
        lookup = np.zeros((256, 3), dtype="uint8")
        for value, rgba in palette.items():
            if 0 <= value < 256:
                lookup[value] = rgba[:3]
        return np.moveaxis(np.take(lookup, bands[0], axis=0, mode="clip"), -1, 0)
    if all(b.dtype == np.uint8 for b in bands):
        return np.stack([np.where(valid, b, 0) for b in bands]).astype("uint8")
    return np.stack([_stretch(amplitude(b), valid) for b in bands])


def render_thumbnail(
    ds: DatasetReaderBase, max_size: int = DEFAULT_THUMBNAIL_SIZE, sample: Sample | None = None
) -> bytes:
    """PNG bytes of at most ``max_size`` pixels a side: RGB or grey plus an alpha
    channel from the dataset mask.

    With a ``sample`` (see :mod:`.sample`) that holds the display bands at this size or
    finer, nothing more is read: the thumbnail is resampled from it.
    """
    shape = _shape(ds, max_size)
    indexes = display_bands(ds)
    usable = sample is not None and all(i in sample.display for i in indexes) and (
        sample.shape[0] >= shape[0] and sample.shape[1] >= shape[1]
    )
    if sample is not None and usable:
        bands = [_resize(sample.display[i], shape) for i in indexes]
        valid = _resize(sample.valid, shape)
    else:
        bands = list(ds.read(indexes, out_shape=(len(indexes), *shape)))
        valid = ds.dataset_mask(out_shape=shape) > 0
    alpha = np.where(valid, 255, 0).astype("uint8")[np.newaxis]
    return encode_png(np.concatenate([_colours(ds, indexes, bands, valid), alpha]))


_PNG_COLOUR_TYPES = {2: 4, 4: 6}  # bands -> PNG colour type: grey + alpha, RGBA


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a (bands, rows, cols) uint8 image of grey + alpha or RGBA bands.

    Every row carries PNG's "Sub" filter (each byte minus the same channel of the pixel
    to its left), computed for all rows at once, then zlib at level 1: half the time of
    GDAL's PNG driver at its level 1 (libpng tries filters row by row), the same size
    within a few percent.
    """
    bands, rows, cols = image.shape
    pixels = np.ascontiguousarray(np.moveaxis(image, 0, -1)).reshape(rows, cols * bands)
    filtered = np.empty((rows, 1 + cols * bands), dtype=np.uint8)
    filtered[:, 0] = 1  # the filter type byte of each row: Sub
    filtered[:, 1 : 1 + bands] = pixels[:, :bands]
    filtered[:, 1 + bands :] = pixels[:, bands:] - pixels[:, :-bands]  # wraps mod 256
    header = struct.pack(">IIBBBBB", cols, rows, 8, _PNG_COLOUR_TYPES[bands], 0, 0, 0)
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", header),
        _png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), 1)),
        _png_chunk(b"IEND", b""),
    ))
