"""One bounded-memory pass over every pixel: proves the file decodes and finds valid data.

Overviews are not enough for either question: ``rasterio/corrupt.tif`` reads fine from
its overviews and fails at full resolution, and a sparse COG can hold its only data in
full-resolution tiles. So the scan reads the full-resolution data in row bands of a few
million pixels and max-pools the validity mask (GDAL's dataset mask: nodata, alpha band
or internal mask) into a grid of at most ``max_size`` cells a side. A grid cell is valid
when any pixel under it is, so a footprint traced on the grid covers every valid pixel.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rasterio.enums import MaskFlags
from rasterio.errors import RasterioError
from rasterio.io import DatasetReaderBase
from rasterio.windows import Window

from workers.errors import InvalidRaster, UnreadableRaster
from workers.extract.dtypes import numpy_dtype

DEFAULT_GRID_SIZE = 512
"""Default longest side, in cells, of the validity grid footprints are traced on."""

_BAND_BYTES = 64 * 1024 * 1024  # memory budget of one row band, all bands together


@dataclass(frozen=True)
class ValidGrid:
    """Where a raster has valid pixels, at a reduced resolution.

    Cell (i, j) covers pixels rows ``[i * factor, (i + 1) * factor)`` and columns
    ``[j * factor, (j + 1) * factor)``, clipped to the raster; it is True when any of
    them is valid. ``valid_pixels`` counts the valid full-resolution pixels. A grid
    made from a decimated read (:func:`grid_from_sample`) has cells of ``cell``
    (width, height) pixels instead, not necessarily whole, and estimates the count.
    """

    cells: np.ndarray
    factor: int
    valid_pixels: int
    cell: tuple[float, float] | None = None

    @property
    def cell_size(self) -> tuple[float, float]:
        """(width, height) of a cell in full-resolution pixels."""
        return self.cell or (float(self.factor), float(self.factor))


def grid_factor(width: int, height: int, max_size: int = DEFAULT_GRID_SIZE) -> int:
    """How many pixels a grid cell spans on each axis for a grid of ``max_size`` cells."""
    return max(1, math.ceil(max(width, height) / max_size))


def _row_bands(ds: DatasetReaderBase, factor: int) -> Iterator[Window]:
    """Full-width windows whose heights are multiples of ``factor`` (the last may be
    shorter), sized to ``_BAND_BYTES``."""
    row_bytes = ds.width * sum(numpy_dtype(d).itemsize for d in ds.dtypes) or 1
    rows = max(factor, (_BAND_BYTES // row_bytes) // factor * factor)
    for top in range(0, ds.height, rows):
        yield Window(0, top, ds.width, min(rows, ds.height - top))


def max_pool(mask: np.ndarray, factor: int) -> np.ndarray:
    """Max-pool a boolean mask by ``factor`` on both axes (padding with False)."""
    if factor == 1:
        return mask
    rows = math.ceil(mask.shape[0] / factor) * factor
    cols = math.ceil(mask.shape[1] / factor) * factor
    padded = np.zeros((rows, cols), dtype=bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    if factor <= 4:
        # ORing the strided views beats a reduction over short, scattered axes.
        pooled = padded[::factor, ::factor].copy()
        for dr in range(factor):
            for dc in range(factor):
                pooled |= padded[dr::factor, dc::factor]
        return pooled
    # Rows first (contiguous runs), then columns: far faster than any(axis=(1, 3)).
    by_rows = padded.reshape(rows // factor, factor, cols).any(axis=1)
    return by_rows.reshape(rows // factor, cols // factor, factor).any(axis=2)


def integer_nodata(ds: DatasetReaderBase) -> np.ndarray | None:
    """The bands' nodata values when GDAL's mask is nodata alone on every band of an
    integer raster, else None."""
    flags = ds.mask_flag_enums
    if not all(f == [MaskFlags.nodata] for f in flags) or any(v is None for v in ds.nodatavals):
        return None
    if not all(np.issubdtype(numpy_dtype(d), np.integer) for d in ds.dtypes):
        return None
    return np.array(ds.nodatavals).reshape(-1, 1, 1)


@contextmanager
def reading(window: Window) -> Iterator[None]:
    """Turn GDAL failing to decode ``window`` into ``UnreadableRaster``."""
    try:
        yield
    except (RasterioError, MemoryError) as exc:
        raise UnreadableRaster(
            f"reading its pixels failed in rows {window.row_off}-"
            f"{window.row_off + window.height - 1}: {exc}"
        ) from exc


def window_validity(ds: DatasetReaderBase, window: Window) -> np.ndarray:
    """The validity mask of one row band, after decoding all its bands.

    With integer nodata as the only mask, a pixel is valid when any band differs from
    its nodata value, as GDAL's dataset mask says; computed here from the pixels just
    read, because asking GDAL for the mask reads the window again (three times slower).
    """
    with reading(window):
        data = ds.read(window=window)
        if (nodata := integer_nodata(ds)) is not None:
            return np.any(data != nodata.astype(data.dtype), axis=0)
        return ds.dataset_mask(window=window) > 0


@dataclass(frozen=True)
class GridGeometry:
    """Shape (rows, cols) of a validity grid and the (width, height) in pixels of its
    cells, the last row and column clipped to the raster."""

    shape: tuple[int, int]
    cell: tuple[float, float]


def sampled_grid_geometry(
    width: int, height: int, sample: tuple[int, int], max_size: int = DEFAULT_GRID_SIZE
) -> GridGeometry:
    """The grid a decimated read of ``sample`` (rows, cols) pixels is pooled into: cells
    of whole sampled pixels, at most ``max_size`` a side."""
    rows, cols = sample
    factor = grid_factor(cols, rows, max_size)
    cell = (factor * width / cols, factor * height / rows)
    return GridGeometry((math.ceil(rows / factor), math.ceil(cols / factor)), cell)


def grid_from_sample(
    valid: np.ndarray, width: int, height: int, max_size: int = DEFAULT_GRID_SIZE
) -> ValidGrid:
    """The validity grid of a raster of ``width`` x ``height`` pixels from the validity
    of a decimated read of it, max-pooled to at most ``max_size`` cells a side."""
    geometry = sampled_grid_geometry(width, height, valid.shape, max_size)
    factor = grid_factor(valid.shape[1], valid.shape[0], max_size)
    cells = max_pool(valid, factor)
    estimate = round(int(np.count_nonzero(valid)) * width * height / valid.size)
    return ValidGrid(cells, factor, estimate, geometry.cell)


@lru_cache(maxsize=1024)  # blocks of one row or column share theirs; never mutated
def cell_runs(
    count: int, pixel: float, size: float, cells: int, offset: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """For ``count`` pixels of ``pixel`` full-resolution pixels each, the first at
    ``offset``, in cells of ``size`` full-resolution pixels: where each run of pixels of
    one cell starts, and that cell (a pixel belongs to the cell its centre is in)."""
    centres = (np.arange(offset, offset + count) + 0.5) * pixel
    index = np.minimum((centres / size).astype(int), cells - 1)
    starts = np.flatnonzero(np.diff(index, prepend=-1))
    return starts, index[starts]


def _or_runs(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """OR the rows of ``mask`` in runs starting at ``starts``: one gather of whole rows
    per position in a run, several times faster than ``np.logical_or.reduceat``."""
    ends = np.append(starts[1:], mask.shape[0])
    if mask.shape[0] >= 8 * len(starts):
        # Long runs: OR each run's contiguous rows at once.
        return np.stack(
            [mask[a:b].any(axis=0) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        )
    pooled = mask[starts]
    for k in range(1, int((ends - starts).max())):
        rows = starts + k
        inside = rows < ends
        if inside.all():
            pooled |= mask[rows]
        else:
            pooled[inside] |= mask[rows[inside]]
    return pooled


def pool_onto(
    cells: np.ndarray,
    mask: np.ndarray,
    pixel: tuple[float, float],
    geometry: GridGeometry,
    row_off: int = 0,
    col_off: int = 0,
) -> None:
    """OR ``mask`` into ``cells`` (of ``geometry``), in place: its pixels span ``pixel``
    (width, height) full-resolution pixels, its first row and column are ``row_off``
    and ``col_off`` of its own resolution, and each pixel goes to the cell its centre
    is in."""
    col_starts, col_cells = cell_runs(
        mask.shape[1], pixel[0], geometry.cell[0], geometry.shape[1], col_off
    )
    row_starts, row_cells = cell_runs(
        mask.shape[0], pixel[1], geometry.cell[1], geometry.shape[0], row_off
    )
    by_rows = _or_runs(mask, row_starts)
    if mask.shape[1] >= 8 * len(col_starts):
        # Long runs along a row: one C loop (a block read again at full resolution,
        # pooled into cells of tens of pixels, took 3 ms the other way).
        pooled = np.logical_or.reduceat(by_rows, col_starts, axis=1)
    else:
        pooled = _or_runs(np.ascontiguousarray(by_rows.T), col_starts).T
    cells[np.ix_(row_cells, col_cells)] |= pooled


def scan_onto(ds: DatasetReaderBase, geometry: GridGeometry) -> ValidGrid:
    """Decode every pixel once and max-pool its validity onto a grid of ``geometry``
    (the full-resolution counterpart of :func:`grid_from_sample`).

    Raises as :func:`scan_valid` does.
    """
    if ds.count == 0:
        raise InvalidRaster("it has no raster bands")
    cells = np.zeros(geometry.shape, dtype=bool)
    valid = 0
    for window in _row_bands(ds, 1):
        mask = window_validity(ds, window)
        valid += int(np.count_nonzero(mask))
        pool_onto(cells, mask, (1.0, 1.0), geometry, window.row_off)
    if valid == 0:
        raise InvalidRaster("it holds no valid pixel: every value is nodata or masked")
    return ValidGrid(cells, 0, valid, geometry.cell)


def scan_valid(ds: DatasetReaderBase, max_size: int = DEFAULT_GRID_SIZE) -> ValidGrid:
    """Decode every pixel once and return where the valid data is.

    Raises ``UnreadableRaster`` when a pixel cannot be decoded and ``InvalidRaster``
    when no pixel is valid (every value is nodata or masked).
    """
    if ds.count == 0:
        raise InvalidRaster("it has no raster bands")
    factor = grid_factor(ds.width, ds.height, max_size)
    cells = np.zeros((math.ceil(ds.height / factor), math.ceil(ds.width / factor)), dtype=bool)
    valid = 0
    for window in _row_bands(ds, factor):
        mask = window_validity(ds, window)
        valid += int(np.count_nonzero(mask))
        top = window.row_off // factor
        pooled = max_pool(mask, factor)
        cells[top : top + pooled.shape[0]] |= pooled
    if valid == 0:
        raise InvalidRaster("it holds no valid pixel: every value is nodata or masked")
    return ValidGrid(cells, factor, valid)
