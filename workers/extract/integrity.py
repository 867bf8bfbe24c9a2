"""A structural check of a GeoTIFF that costs no decoding: every block lies in the file.

Extraction reads a raster at reduced resolution (see :mod:`.sample`), so most of its
full-resolution blocks are never decoded. A file cut short in transfer, or whose block
offsets are damaged (``rasterio/corrupt.tif``), still shows it in the block index GDAL
already holds: a block that starts or ends past the end of the file. Checking that
index takes milliseconds for thousands of blocks. Damage inside a block's compressed
bytes is only found by decoding it: ``ExtractOptions(full_scan=True)`` does.
"""

from __future__ import annotations

import math

from rasterio.io import DatasetReaderBase

from workers.errors import UnreadableRaster


def _block_extent(ds: DatasetReaderBase, band: int, row: int, col: int) -> tuple[int, int]:
    offset = ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band)
    size = ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band)
    return int(offset or 0), int(size or 0)


def check_blocks(ds: DatasetReaderBase, file_size: int) -> None:
    """Raise ``UnreadableRaster`` when a full-resolution block of a GeoTIFF lies past
    the end of its ``file_size`` bytes; other formats pass unchecked."""
    if ds.driver != "GTiff" or ds.count == 0:
        return
    block_height, block_width = ds.block_shapes[0]
    rows, cols = math.ceil(ds.height / block_height), math.ceil(ds.width / block_width)
    # Pixel-interleaved bands share their blocks; band-interleaved ones have their own.
    bands = ds.indexes if ds.interleaving is not None and ds.interleaving.name == "BAND" else (1,)
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
