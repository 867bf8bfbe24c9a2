"""File extension fields."""

from __future__ import annotations

import hashlib
import mmap
import threading
from datetime import UTC, datetime
from pathlib import Path

import blake3
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from catalog.checksums import ALL_CPUS
from tests.support.paths import RASTERS
from workers.errors import UnreadableRaster
from workers.extract import ExtractOptions, build_item, extract, files
from workers.extract.files import HashingStopped, KnownChecksum, file_fields, multihash


def test_the_checksum_is_a_sha2_256_multihash() -> None:
    path = RASTERS / "rasterio/byte.tif"
    fields = file_fields(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert fields == {"file:size": 736, "file:checksum": "1220" + digest}


def test_the_checksum_can_be_a_blake3_multihash() -> None:
    path = RASTERS / "rasterio/RGB.byte.tif"
    options = ExtractOptions(checksum="blake3")
    item = build_item(path, "rasters", datetime=datetime(2020, 1, 1, tzinfo=UTC), options=options)
    digest = blake3.blake3(path.read_bytes()).hexdigest()
    assert item["assets"]["data"]["file:checksum"] == "1e20" + digest


def test_an_unknown_checksum_is_refused_when_configured() -> None:
    with pytest.raises(ValueError, match="checksum must be one of sha2-256, blake3"):
        ExtractOptions(checksum="md5")


def test_a_checksum_known_from_the_upload_is_used_for_a_file_of_its_size(tmp_path) -> None:
    source = RASTERS / "rasterio/byte.tif"
    path = tmp_path / "byte.tif"
    path.write_bytes(source.read_bytes())
    received = "1e20" + blake3.blake3(source.read_bytes()).hexdigest()
    when = datetime(2020, 1, 1, tzinfo=UTC)
    item = extract(path, "rasters", datetime=when,
                   known_checksum=KnownChecksum(path.stat().st_size, received)).item
    assert item["assets"]["data"]["file:checksum"] == received
    # Not the file it was computed for (another size): the file is hashed again.
    path.write_bytes(source.read_bytes() + b"\0" * 16)
    item = extract(path, "rasters", datetime=when,
                   known_checksum=KnownChecksum(source.stat().st_size, received)).item
    assert item["assets"]["data"]["file:checksum"] == (
        "1220" + hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_a_known_checksum_must_be_a_multihash() -> None:
    with pytest.raises(ValueError, match="not a multihash"):
        KnownChecksum(736, "d41d8cd98f00b204e9800998ecf8427e")


def _large_geotiff(path: Path, side: int = 3200) -> Path:
    """A real uncompressed GeoTIFF larger than INLINE_BYTES (hashed in a thread)."""
    data = np.random.default_rng(7).integers(1, 255, size=(1, side, side), dtype=np.uint8)
    profile = {
        "driver": "GTiff", "width": side, "height": side, "count": 1, "dtype": "uint8",
        "crs": "EPSG:32616", "transform": from_origin(500_000, 3_500_000, 10, 10),
        "tiled": True, "blockxsize": 256, "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    assert path.stat().st_size > files.INLINE_BYTES
    return path


@pytest.mark.parametrize("algorithm", ["sha2-256", "blake3"])
@pytest.mark.parametrize("pages", [1, 3, 2048])
def test_a_large_file_is_hashed_window_by_window(
    tmp_path, monkeypatch, algorithm: str, pages: int
) -> None:
    # Windows start at multiples of the mapping granularity; the file's size is not one,
    # so its last window is a partial one. Chunks read (SHA-256) need not be aligned.
    monkeypatch.setattr(files, "_WINDOW", pages * mmap.ALLOCATIONGRANULARITY)
    monkeypatch.setattr(files, "_CHUNK", pages * mmap.ALLOCATIONGRANULARITY + 17)
    path = _large_geotiff(tmp_path / "large.tif")
    data = path.read_bytes()
    expected = ("1220" + hashlib.sha256(data).hexdigest() if algorithm == "sha2-256"
                else "1e20" + blake3.blake3(data).hexdigest())
    assert file_fields(path, algorithm=algorithm) == {
        "file:size": len(data), "file:checksum": expected,
    }


def test_blake3_on_every_cpu_gives_the_single_threaded_digest(tmp_path) -> None:
    path = _large_geotiff(tmp_path / "large.tif")
    one = multihash(path, algorithm="blake3", threads=1).hexdigest()
    every = multihash(path, algorithm="blake3", threads=ALL_CPUS).hexdigest()
    assert one == every == "1e20" + blake3.blake3(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("algorithm", ["sha2-256", "blake3"])
def test_hashing_beside_the_extraction_gives_the_item_hashing_first_gives(
    tmp_path, monkeypatch, algorithm: str
) -> None:
    path = _large_geotiff(tmp_path / "large.tif")
    options = ExtractOptions(checksum=algorithm)
    when = datetime(2020, 1, 1, tzinfo=UTC)
    concurrent = extract(path, "rasters", datetime=when, options=options, thumbnail=True)
    # The same file hashed in the calling thread before it is read.
    monkeypatch.setattr(files, "INLINE_BYTES", path.stat().st_size)
    sequential = extract(path, "rasters", datetime=when, options=options, thumbnail=True)
    assert concurrent.item == sequential.item
    assert concurrent.thumbnail == sequential.thumbnail
    data = path.read_bytes()
    digest = (hashlib.sha256(data) if algorithm == "sha2-256" else blake3.blake3(data)).hexdigest()
    assert concurrent.item["assets"]["data"]["file:checksum"][4:] == digest


def test_a_large_file_that_is_no_raster_fails_and_stops_hashing(tmp_path) -> None:
    path = tmp_path / "noise.tif"
    path.write_bytes(np.random.default_rng(3).bytes(files.INLINE_BYTES * 3))
    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(UnreadableRaster, match=r"noise\.tif"):
        extract(path, "rasters", datetime=datetime(2020, 1, 1, tzinfo=UTC))
    # The hashing thread was stopped and joined, not left reading the file.
    assert {t.ident for t in threading.enumerate()} <= before


def test_hashing_stops_at_the_next_window_once_asked(tmp_path) -> None:
    path = _large_geotiff(tmp_path / "large.tif")
    stop = threading.Event()
    stop.set()
    with pytest.raises(HashingStopped):
        multihash(path, stop, "blake3")
