"""Where a decimated read cannot be trusted for the footprint: validity at full resolution.

Overviews are made by resampling kernels that either drop valid pixels smaller than
their own pixel (nearest, mode: the islands of a world land mask vanish) or spill past
the data's edge (bilinear, cubic, some averages: a thin glacier strip grows by one
overview pixel on each side). Either way the error lives where the sample is not
surely valid: in its invalid cells and next to its outline. A finer overview is made by
the same kernel, so only full resolution is the truth.

When the outline cells of the grid traced from the sample are more than
:data:`REFINE_OUTLINE_SHARE` of its valid cells (a thin strip, a speckled mask, a land
mask with islands), the validity is read again at full resolution, but only in the
file's own blocks (tiles or strips) that hold an *uncertain* cell: one the sample calls
invalid or that lies within :data:`SURE_MARGIN` cells of one. Cells deep inside the
sample's valid area stay valid. Each uncertain block's validity is max-pooled onto the
same cells, so those cells are the full scan's.

In a GeoTIFF, blocks whose compressed bytes are identical decode to identical pixels:
the open sea of a land mask, a nodata collar, are one block stored many times. The
block index and the raw bytes of the uncertain blocks are read from the file (cheap:
compressed), and one block of each distinct content is decoded. The work is bounded by
``budget``: the decoded bytes of the blocks to decode (and the compressed bytes read to
compare them); past it the footprint stays the sample's. Memory holds one block, or one
run of blocks along a block row, at a time. An integer raster whose only mask is
nodata (a land mask, most imagery) is pooled from its values, without a mask
(:class:`_Reader`). Each block is decoded once, so GDAL's block cache is held small
while they are (:func:`small_block_cache`).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from rasterio.enums import Interleaving, MaskFlags
from rasterio.env import get_gdal_config, set_gdal_config
from rasterio.io import DatasetReaderBase
from rasterio.windows import Window

from workers.extract.dtypes import numpy_dtype
from workers.extract.integrity import tiff_block_index
from workers.extract.sample import Sample
from workers.extract.scan import (
    DEFAULT_GRID_SIZE,
    GridGeometry,
    ValidGrid,
    grid_from_sample,
    integer_nodata,
    pool_onto,
    reading,
    sampled_grid_geometry,
    window_validity,
)

REFINE_OUTLINE_SHARE = 0.05
"""Share of valid cells on the outline above which the validity is read again, finer."""
DEFAULT_REFINE_BYTES = 256 * 1024 * 1024
"""Default budget, in decoded bytes of all bands, of the blocks read again at full
resolution (one block in memory at a time): about a tenth of a second of deflate."""
SURE_MARGIN = 2
"""Cells of the sample's valid area this far from any invalid cell are taken as valid:
a resampling kernel (cubic: two overview pixels) spills no further."""


def outline_share(cells: np.ndarray) -> float:
    """Valid cells with an invalid 4-neighbour, over valid cells (0 when none is
    valid); the grid's own edges are not an outline (the raster ends there)."""
    count = int(np.count_nonzero(cells))
    if not count:
        return 0.0
    padded = np.pad(cells, 1, constant_values=True)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return int(np.count_nonzero(cells & ~inner)) / count


def sure_cells(cells: np.ndarray, margin: int = SURE_MARGIN) -> np.ndarray:
    """Valid cells whose every cell within ``margin`` (a square) is valid too; past the
    grid's edges counts as valid (the raster ends there)."""
    padded = np.pad(cells, margin, constant_values=True)
    rows, cols = cells.shape
    by_rows = padded[:rows, :].copy()
    for shift in range(1, 2 * margin + 1):
        by_rows &= padded[shift : shift + rows, :]
    sure = by_rows[:, :cols].copy()
    for shift in range(1, 2 * margin + 1):
        sure &= by_rows[:, shift : shift + cols]
    return sure


@dataclass(frozen=True)
class _Blocks:
    """The full-resolution block grid of a raster: (height, width) of a block and how
    many rows and columns of blocks."""

    height: int
    width: int
    rows: int
    cols: int

    def window(self, row: int, col: int, width: int, height: int) -> Window:
        top, left = row * self.height, col * self.width
        return Window(left, top, min(self.width, width - left), min(self.height, height - top))


def _overlap(cells: int, cell: float, block: int, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``blocks`` blocks along an axis, the first cell and one past the last
    that hold a pixel of it (by a cell's pixels from ``floor(i * cell)`` to
    ``ceil((i + 1) * cell) - 1``): a contiguous range, as both ends grow with i."""
    first = np.floor(np.arange(cells) * cell).astype(int)
    last = np.ceil((np.arange(cells) + 1) * cell).astype(int) - 1
    start = np.minimum(first // block, blocks - 1)
    stop = np.minimum(last // block, blocks - 1)
    index = np.arange(blocks)
    return np.searchsorted(stop, index, "left"), np.searchsorted(start, index, "right")


def uncertain_blocks(uncertain: np.ndarray, geometry: GridGeometry, blocks: _Blocks) -> np.ndarray:
    """(rows, cols) of blocks holding a pixel of an ``uncertain`` cell: the uncertain
    cells of each block's range of cells counted from a summed-area table (an integer
    matrix product did the same in 7 ms on a 512-cell grid, numpy having no BLAS for
    integers; a float one starts BLAS's threads)."""
    row_lo, row_hi = _overlap(geometry.shape[0], geometry.cell[1], blocks.height, blocks.rows)
    col_lo, col_hi = _overlap(geometry.shape[1], geometry.cell[0], blocks.width, blocks.cols)
    table = np.zeros((uncertain.shape[0] + 1, uncertain.shape[1] + 1), dtype=np.int64)
    np.cumsum(np.cumsum(uncertain, axis=0), axis=1, out=table[1:, 1:])
    counts = (
        table[np.ix_(row_hi, col_hi)] - table[np.ix_(row_lo, col_hi)]
        - table[np.ix_(row_hi, col_lo)] + table[np.ix_(row_lo, col_lo)]
    )
    return counts > 0


def _content_keys(
    ds: DatasetReaderBase, blocks: _Blocks, wanted: np.ndarray, budget: int
) -> dict[tuple[int, int], bytes] | None:
    """A digest of the compressed bytes of each wanted block of a GeoTIFF, all bands
    (equal digests: equal pixels), or None when that cannot be told (not a local
    GeoTIFF, an internal mask stored apart from the pixels, an index that does not
    match) or the bytes to read exceed ``budget``."""
    if ds.driver != "GTiff" or not Path(ds.name).is_file():
        return None
    # Validity must come from the block's own pixels (nodata values, an alpha band);
    # an internal or external mask lives in other blocks.
    if any(MaskFlags.per_dataset in f and MaskFlags.alpha not in f for f in ds.mask_flag_enums):
        return None
    found = tiff_block_index(Path(ds.name))
    planes = ds.count if ds.interleaving == Interleaving.band else 1
    per_plane = blocks.rows * blocks.cols
    if found is None or found[0].size != planes * per_plane:
        return None
    offsets, sizes = found
    positions = np.flatnonzero(wanted.ravel())
    picked = [positions + plane * per_plane for plane in range(planes)]
    if int(sum(sizes[p].sum() for p in picked)) > budget:
        return None
    keys: dict[tuple[int, int], bytes] = {}
    with Path(ds.name).open("rb") as file:
        for n, position in enumerate(positions.tolist()):
            digest = hashlib.blake2b(digest_size=16)
            for plane in picked:
                file.seek(int(offsets[plane[n]]))
                digest.update(file.read(int(sizes[plane[n]])))
            keys[divmod(position, blocks.cols)] = digest.digest()
    return keys


def _mark(cells: np.ndarray, geometry: GridGeometry, window: Window) -> None:
    """Set every cell holding a pixel (by centre) of ``window``."""
    row_cells = _cell_indices(window.row_off, window.height, geometry.cell[1], cells.shape[0])
    col_cells = _cell_indices(window.col_off, window.width, geometry.cell[0], cells.shape[1])
    cells[row_cells[0] : row_cells[1] + 1, col_cells[0] : col_cells[1] + 1] = True


def _cell_indices(offset: int, count: int, cell: float, cells: int) -> tuple[int, int]:
    """First and last cell whose pixels (by centre) ``offset`` .. ``offset + count``."""
    first = min(int((offset + 0.5) / cell), cells - 1)
    last = min(int((offset + count - 0.5) / cell), cells - 1)
    return first, last


_RUN_BYTES = 16 * 1024 * 1024  # decoded bytes of blocks read in one window
_DECODING_CACHE = 4 * 1024 * 1024  # GDAL's block cache while blocks are decoded once


class _BlockCache:
    """GDAL's block cache size (one per process) while threads decode blocks once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0  # threads inside small_block_cache
        self.saved = 0  # the size they found
        self.size = 0  # the size they set

    @contextmanager
    def small(self, size: int) -> Iterator[None]:
        """GDAL's cache at most ``size`` bytes (at least the largest any user asks
        for), back to what it was once the last user leaves."""
        with self.lock:
            if self.users == 0:
                self.saved, self.size = int(get_gdal_config("GDAL_CACHEMAX")), 0
            self.users += 1
            wanted = min(max(self.size, size), self.saved)
            if wanted != self.size:
                set_gdal_config("GDAL_CACHEMAX", wanted)
                self.size = wanted
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if self.users == 0 and self.size != self.saved:
                    set_gdal_config("GDAL_CACHEMAX", self.saved)


_BLOCK_CACHE = _BlockCache()


def small_block_cache(block_bytes: int) -> AbstractContextManager[None]:
    """Hold GDAL's block cache at ``_DECODING_CACHE`` (or two blocks of
    ``block_bytes``, if larger), then give it back the size it had.

    In a large cache every block decoded once takes fresh memory, resident until the
    dataset closes: on cog_world.tif's 878 distinct blocks, 56,000 page faults and 0.25
    to 0.6 s of CPU in a fresh process, against 0.07 s and 7 faults in a small cache
    (and 228 MB less peak memory). The size is read from GDAL and set back to it
    (``GDAL_CACHEMAX`` through rasterio's config functions), not restored by leaving a
    nested ``rasterio.Env``: that puts back only a size an enclosing Env had set, so
    under an Env that set none (or none at all, after a first) GDAL's cache stayed
    small for the rest of the process, and a later raster took 23 s instead of 0.2."""
    return _BLOCK_CACHE.small(max(_DECODING_CACHE, 2 * block_bytes))


def _runs(
    positions: list[tuple[int, int]],
    blocks: _Blocks,
    width: int,
    height: int,
    pixel_bytes: int,
) -> list[Window]:
    """Windows over runs of adjacent blocks of one block row, each run within
    ``_RUN_BYTES`` decoded."""
    longest = max(1, _RUN_BYTES // (blocks.height * blocks.width * pixel_bytes))
    windows: list[Window] = []
    start = previous = None
    for row, col in [*sorted(positions), (-1, -1)]:  # the sentinel ends the last run
        if (
            start is not None
            and previous is not None
            and (row != start[0] or col != previous[1] + 1 or col - start[1] >= longest)
        ):
            first = blocks.window(*start, width, height)
            last = blocks.window(*previous, width, height)
            windows.append(
                Window(
                    first.col_off,
                    first.row_off,
                    last.col_off + last.width - first.col_off,
                    first.height,
                )
            )
            start = None
        if start is None:
            start = (row, col)
        previous = (row, col)
    return windows


def _pool(cells: np.ndarray, geometry: GridGeometry, window: Window, mask: np.ndarray) -> None:
    """OR the full-resolution validity ``mask`` of ``window`` into ``cells``."""
    if mask.all():
        _mark(cells, geometry, window)
    elif mask.any():
        pool_onto(cells, mask, (1.0, 1.0), geometry, int(window.row_off), int(window.col_off))


@lru_cache(maxsize=64)  # the rows and the columns of one grid; never mutated
def _pixel_cells(size: float, cells: int) -> np.ndarray:
    """The cell of each full-resolution pixel along an axis of ``cells`` cells of
    ``size`` pixels (by its centre, as :func:`.scan.cell_runs` places them)."""
    centres = np.arange(math.ceil(cells * size) + 1) + 0.5
    return np.minimum((centres / size).astype(int), cells - 1)


@lru_cache(maxsize=1024)  # windows of one block row or column share theirs; never mutated
def _runs_of(
    size: float, cells: int, offset: int, count: int
) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Where each run of pixels of one cell starts among ``count`` pixels from
    ``offset`` along an axis of ``cells`` cells of ``size`` pixels, where it ends (as a
    list), and that cell (:func:`.scan.cell_runs` from one index per axis)."""
    part = _pixel_cells(size, cells)[offset : offset + count]
    starts = np.flatnonzero(np.diff(part, prepend=-1))
    return starts, [*starts[1:].tolist(), count], part[starts]


def _words(values: np.ndarray) -> np.ndarray:
    """``values`` seen as 64-bit words along rows when their bytes allow it: OR-ing
    rows of words takes a third less time than of bytes, and a word is nonzero where
    any of its values is."""
    row_bytes = values.shape[-1] * values.itemsize
    if values.itemsize < 8 and row_bytes % 8 == 0 and values.strides[-1] == values.itemsize:
        return values.view(np.uint64)
    return values


@dataclass(frozen=True)
class _Read:
    """A window read at full resolution: (bands, rows, cols) values, a pixel valid where
    any band is nonzero."""

    values: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape[1], self.values.shape[2]

    def any(self) -> bool:
        return bool(self.values.any())

    def all(self) -> bool:
        if self.values.shape[0] == 1:
            return bool(self.values[0].all())
        return bool(np.bitwise_or.reduce(self.values, axis=0).all())


class _Mask(_Read):
    """The validity mask of a window (GDAL's dataset mask), as one band."""

    def pool(self, cells: np.ndarray, geometry: GridGeometry, window: Window) -> None:
        """OR the top-left ``window``-sized part into ``cells`` at ``window``'s place."""
        _pool(cells, geometry, window, self.values[0, : int(window.height), : int(window.width)])


class _Differences(_Read):
    """The pixels of a window, each band XORed with its nodata value: a pixel is valid
    where any band is nonzero, as GDAL's dataset mask of an integer raster with nodata
    alone says (:func:`.scan.window_validity`). Pooled from the values themselves,
    OR-ing whole rows: no mask is made (making one and pooling it cost more than GDAL's
    decoding on cog_world.tif)."""

    def pool(self, cells: np.ndarray, geometry: GridGeometry, window: Window) -> None:
        """OR the top-left ``window``-sized part into ``cells`` at ``window``'s place,
        each pixel into the cell its centre is in."""
        height, width = int(window.height), int(window.width)
        part = self.values[:, :height, :width]
        row_starts, row_ends, row_cells = _runs_of(
            geometry.cell[1], geometry.shape[0], int(window.row_off), height
        )
        col_starts, _, col_cells = _runs_of(
            geometry.cell[0], geometry.shape[1], int(window.col_off), width
        )
        words = _words(part)
        rows = np.empty((len(row_starts), words.shape[-1]), dtype=words.dtype)
        for run, (first, end) in enumerate(zip(row_starts.tolist(), row_ends, strict=True)):
            np.bitwise_or.reduce(words[:, first:end], axis=(0, 1), out=rows[run])
        pooled = np.logical_or.reduceat(rows.view(part.dtype) != 0, col_starts, axis=1)
        cells[np.ix_(row_cells, col_cells)] |= pooled


class _Reader:
    """Reads windows of one raster at full resolution for :func:`refined_cells`. An
    integer raster whose only mask is nodata, all bands of one type, is read into one
    array kept for every window (a new array per window cost a third of GDAL's read
    time in page faults) and pooled from its values; any other through GDAL's dataset
    mask. A read is valid until the next one."""

    def __init__(self, ds: DatasetReaderBase) -> None:
        self.ds = ds
        nodata = integer_nodata(ds)
        self.integer = nodata is not None
        self.nodata = None
        self.buffer = np.empty(0)
        if nodata is not None and len(set(ds.dtypes)) == 1:
            dtype = numpy_dtype(ds.dtypes[0])
            # As window_validity compares: the nodata value cast to the band's type.
            self.nodata = nodata.astype(dtype)
            self.buffer = np.empty(0, dtype=dtype)

    def read(self, window: Window) -> _Mask | _Differences:
        """The validity of ``window``."""
        if self.nodata is None:
            if self.integer:
                return _Mask(window_validity(self.ds, window)[np.newaxis])
            # Only GDAL's mask is needed (it reads what it needs: the bands for a float
            # nodata, compared as GDAL does, or the alpha band); reading the pixels
            # first, as a full scan must, decoded a float DEM's blocks twice.
            with reading(window):
                return _Mask((self.ds.dataset_mask(window=window) > 0)[np.newaxis])
        shape = (self.ds.count, int(window.height), int(window.width))
        size = math.prod(shape)
        if self.buffer.size < size:
            self.buffer = np.empty(size, dtype=self.buffer.dtype)
        values = self.buffer[:size].reshape(shape)
        with reading(window):
            self.ds.read(window=window, out=values)
        if self.nodata.any():
            np.bitwise_xor(values, self.nodata, out=values)
        return _Differences(values)


def refined_cells(
    ds: DatasetReaderBase, cells: np.ndarray, geometry: GridGeometry, budget: int
) -> np.ndarray | None:
    """The cells of a sampled validity grid with every uncertain cell read again at full
    resolution (see the module); None when that would exceed ``budget``."""
    block_height, block_width = ds.block_shapes[0]
    blocks = _Blocks(
        block_height,
        block_width,
        math.ceil(ds.height / block_height),
        math.ceil(ds.width / block_width),
    )
    sure = sure_cells(cells)
    wanted = uncertain_blocks(~sure, geometry, blocks)
    keys = _content_keys(ds, blocks, wanted, budget)
    groups: dict[object, list[tuple[int, int]]] = {}
    for row, col in zip(*np.nonzero(wanted), strict=True):
        position = (int(row), int(col))
        groups.setdefault(keys[position] if keys is not None else position, []).append(position)
    pixel_bytes = sum(numpy_dtype(d).itemsize for d in ds.dtypes) or 1
    if len(groups) * blocks.height * blocks.width * pixel_bytes > budget:
        return None
    refined = sure.copy()
    # Each block is decoded once (one per distinct content): a small cache spares the
    # fresh memory a large one would give every block.
    with small_block_cache(blocks.height * blocks.width * pixel_bytes):
        _read_groups(_Reader(ds), refined, geometry, blocks, groups, pixel_bytes)
    return refined


def _read_groups(
    reader: _Reader,
    refined: np.ndarray,
    geometry: GridGeometry,
    blocks: _Blocks,
    groups: dict[object, list[tuple[int, int]]],
    pixel_bytes: int,
) -> None:
    """OR into ``refined`` the validity of every block of ``groups`` (blocks of equal
    content together), read at full resolution."""
    ds = reader.ds
    singles: list[tuple[int, int]] = []
    for members in groups.values():
        if len(members) == 1:
            singles.append(members[0])
            continue
        # Equal bytes hold equal (padded) blocks; an edge block is the top-left part of
        # one, so the largest window of the group is read.
        windows = [blocks.window(*m, ds.width, ds.height) for m in members]
        read = reader.read(max(windows, key=lambda w: (w.height, w.width)))
        height, width = read.shape
        fitting = []
        for member, window in zip(members, windows, strict=True):
            if window.height <= height and window.width <= width:
                fitting.append(window)
            else:
                singles.append(member)  # a right edge block and a bottom one alike
        if not read.any():
            continue  # e.g. the open sea: one read for every block of it
        everywhere = read.all()
        for window in fitting:
            if everywhere:
                _mark(refined, geometry, window)
            else:
                read.pool(refined, geometry, window)
    # Blocks of their own content, side by side in a row, are read and pooled together:
    # a read and a pooling per block cost more than decoding a coastline's block.
    for window in _runs(singles, blocks, ds.width, ds.height, pixel_bytes):
        reader.read(window).pool(refined, geometry, window)


def reduced_grid(
    ds: DatasetReaderBase,
    sample: Sample,
    grid_size: int = DEFAULT_GRID_SIZE,
    budget: int = DEFAULT_REFINE_BYTES,
) -> ValidGrid:
    """The validity grid of ``ds`` from its ``sample``, its uncertain cells read again
    at full resolution (see the module) when its outline is a large share of it and the
    budget allows."""
    grid = grid_from_sample(sample.valid, ds.width, ds.height, grid_size)
    decimation = sample.decimation(ds.width)
    if decimation <= 1 or budget <= 0 or outline_share(grid.cells) <= REFINE_OUTLINE_SHARE:
        return grid
    geometry = sampled_grid_geometry(ds.width, ds.height, sample.shape, grid_size)
    cells = refined_cells(ds, grid.cells, geometry, budget)
    if cells is None or not cells.any():
        return grid
    return ValidGrid(cells, grid.factor, grid.valid_pixels, geometry.cell)
