"""A structural check of a GeoTIFF that costs no decoding: every block lies in the file.

Extraction reads a raster at reduced resolution (see :mod:`.sample`), so most of its
full-resolution blocks are never decoded. A file cut short in transfer, or whose block
offsets are damaged (``rasterio/corrupt.tif``), still shows it in the block index GDAL
already holds: a block that starts or ends past the end of the file. Checking that
index costs no decoding: the offsets and sizes of the image's blocks are read straight
from its TIFF directory (two arrays), GDAL's per-block metadata only when that fails or
to name the first bad block. Damage inside a block's compressed
bytes is only found by decoding it: ``ExtractOptions(full_scan=True)`` does.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
from rasterio.enums import Interleaving
from rasterio.io import DatasetReaderBase

from workers.errors import UnreadableRaster


def _block_extent(ds: DatasetReaderBase, band: int, row: int, col: int) -> tuple[int, int]:
    offset = ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band)
    size = ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band)
    return int(offset or 0), int(size or 0)


# TIFF field types of offsets and byte counts (SHORT, LONG, LONG8) and the tags of
# strips and tiles (TIFF 6.0 and BigTIFF).
_FIELD_TYPES = {3: "H", 4: "I", 16: "Q"}
_OFFSET_TAGS = {273: "offsets", 279: "sizes", 324: "offsets", 325: "sizes"}


def tiff_block_index(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(offsets, byte counts) of the blocks of a TIFF's first image (the one GDAL
    opens), all bands, in GDAL's block order; None when the file is not a TIFF this
    reads (then GDAL's metadata is asked)."""
    with path.open("rb") as file:
        head = file.read(16)
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None or len(head) < 16:
            return None
        version = struct.unpack(order + "H", head[2:4])[0]
        if version == 42:
            (directory,) = struct.unpack(order + "I", head[4:8])
            count_format, entry, inline = "H", "HHI4s", 4
        elif version == 43:
            (directory,) = struct.unpack(order + "Q", head[8:16])
            count_format, entry, inline = "Q", "HHQ8s", 8
        else:
            return None
        file.seek(directory)
        count_size = struct.calcsize(count_format)
        (entries,) = struct.unpack(order + count_format, file.read(count_size))
        entry_size = struct.calcsize("=" + entry)
        table = file.read(entries * entry_size)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(table) - entry_size + 1, entry_size):
            tag, kind, n, value = struct.unpack(order + entry, table[start : start + entry_size])
            if tag not in _OFFSET_TAGS or kind not in _FIELD_TYPES:
                continue
            dtype = np.dtype(order + _FIELD_TYPES[kind])
            if n * dtype.itemsize <= inline:
                raw = value[: n * dtype.itemsize]
            else:
                file.seek(struct.unpack(order + ("I" if inline == 4 else "Q"), value)[0])
                raw = file.read(n * dtype.itemsize)
            if len(raw) != n * dtype.itemsize:
                return None  # the array itself lies past the end of the file
            found[_OFFSET_TAGS[tag]] = np.frombuffer(raw, dtype=dtype).astype(np.uint64)
    if set(found) != {"offsets", "sizes"} or found["offsets"].size != found["sizes"].size:
        return None
    return found["offsets"], found["sizes"]


def check_blocks(ds: DatasetReaderBase, file_size: int, path: Path | None = None) -> None:
    """Raise ``UnreadableRaster`` when a full-resolution block of a GeoTIFF lies past
    the end of its ``file_size`` bytes; other formats pass unchecked. With the file's
    ``path``, its block index is read from the TIFF directory directly."""
    if ds.driver != "GTiff" or ds.count == 0:
        return
    block_height, block_width = ds.block_shapes[0]
    rows, cols = math.ceil(ds.height / block_height), math.ceil(ds.width / block_width)
    # Pixel-interleaved bands share their blocks; band-interleaved ones have their own.
    bands = ds.indexes if ds.interleaving == Interleaving.band else (1,)
    found = tiff_block_index(path) if path is not None else None
    if found is not None and found[0].size == len(bands) * rows * cols:
        offsets, sizes = found
        if not np.any(offsets + sizes > file_size):
            return
    for band in bands:
        for row in range(rows):
            for col in range(cols):
                offset, size = _block_extent(ds, band, row, col)
                if offset + size > file_size:
                    raise UnreadableRaster(
                        f"it is truncated or corrupt: block {row},{col} of band {band} "
                        f"spans bytes {offset}-{offset + size}, past the end of the file "
                        f"({file_size} bytes)"
                    )
