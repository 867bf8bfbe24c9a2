"""Damaged files: a truncated or mis-indexed GeoTIFF is refused without decoding it; a
damaged block that the reduced-resolution read never touches is found by a full scan."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import Interleaving, Resampling
from rasterio.transform import from_origin

from tests.support.paths import RASTERS
from workers.errors import UnreadableRaster
from workers.extract import ExtractOptions, build_item
from workers.extract.integrity import tiff_block_index

WHEN = datetime(2022, 5, 1, tzinfo=UTC)


def write_tiled(path: Path, size: int = 2048) -> Path:
    """A deflate-compressed, tiled GeoTIFF with overviews (so a read at 1024 pixels a
    side never decodes a full-resolution block)."""
    rng = np.random.default_rng(3)
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint8",
        "crs": "EPSG:32631", "transform": from_origin(400_000, 5_000_000, 1, 1),
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(rng.integers(1, 255, size=(1, size, size), dtype="uint8"))
        ds.build_overviews([2, 4], Resampling.average)
    return path


def block_extent(path: Path, row: int, col: int) -> tuple[int, int]:
    with rasterio.open(path) as ds:
        offset = ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1)
        size = ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1)
    return int(offset), int(size)


def test_a_truncated_geotiff_is_refused_without_decoding_it(tmp_path: Path) -> None:
    path = write_tiled(tmp_path / "cut.tif")
    offset, size = block_extent(path, 7, 7)  # the last full-resolution block
    with path.open("r+b") as file:
        file.truncate(offset + size // 2)
    with pytest.raises(UnreadableRaster, match="truncated or corrupt: block 7,7 of band 1"):
        build_item(path, "damaged", datetime=WHEN)


def test_a_damaged_block_is_found_by_a_full_scan(tmp_path: Path) -> None:
    path = write_tiled(tmp_path / "damaged.tif")
    offset, size = block_extent(path, 3, 4)
    with path.open("r+b") as file:
        file.seek(offset + 2)
        file.write(b"\xff" * (size - 4))  # a broken deflate stream, inside the file
    # The reduced-resolution read decodes only overviews: the item is made...
    assert build_item(path, "damaged", datetime=WHEN)["id"] == "damaged"
    # ...and a full scan, which decodes every block, refuses the file.
    with pytest.raises(UnreadableRaster, match="reading its pixels failed"):
        build_item(path, "damaged", datetime=WHEN, options=ExtractOptions(full_scan=True))


GEOTIFFS = sorted(
    str(p.relative_to(RASTERS)) for p in RASTERS.rglob("*.tif*") if p.suffix in (".tif", ".tiff")
)


@pytest.mark.parametrize("name", GEOTIFFS)
def test_the_block_index_read_from_the_tiff_directory_is_gdals(name: str) -> None:
    path = RASTERS / name
    try:
        ds = rasterio.open(path)
    except rasterio.errors.RasterioIOError:
        pytest.skip("GDAL cannot open it")
    with ds:
        if ds.driver != "GTiff":
            pytest.skip("not a GeoTIFF")
        bands = ds.indexes if ds.interleaving == Interleaving.band else (1,)
        height, width = ds.block_shapes[0]
        grid = range(-(-ds.height // height)), range(-(-ds.width // width))
        gdal = [
            tuple(int(ds.get_tag_item(f"BLOCK_{k}_{c}_{r}", "TIFF", bidx=b) or 0)
                  for k in ("OFFSET", "SIZE"))
            for b in bands for r in grid[0] for c in grid[1]
        ]
    offsets, sizes = tiff_block_index(path)
    assert list(zip(offsets.tolist(), sizes.tolist(), strict=True)) == gdal


def test_a_truncated_block_of_a_later_band_is_found(tmp_path: Path) -> None:
    path = tmp_path / "planar.tif"
    profile = {
        "driver": "GTiff", "width": 512, "height": 512, "count": 3, "dtype": "uint8",
        "crs": "EPSG:32631", "transform": from_origin(400_000, 5_000_000, 1, 1),
        "tiled": True, "blockxsize": 256, "blockysize": 256, "interleave": "band",
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.random.default_rng(1).integers(1, 255, (3, 512, 512), dtype="uint8"))
    with rasterio.open(path) as ds:
        offset = int(ds.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=3))
    with path.open("r+b") as file:
        file.truncate(offset + 10)
    with pytest.raises(UnreadableRaster, match="block 1,1 of band 3"):
        build_item(path, "damaged", datetime=WHEN)
