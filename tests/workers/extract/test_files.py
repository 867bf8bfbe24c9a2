"""File extension fields."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import blake3
import pytest

from tests.support.paths import RASTERS
from workers.extract import ExtractOptions, build_item
from workers.extract.files import file_fields


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
