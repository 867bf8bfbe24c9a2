"""File extension fields."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import blake3
import pytest

from tests.support.paths import RASTERS
from workers.extract import ExtractOptions, build_item, extract
from workers.extract.files import KnownChecksum, file_fields


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
