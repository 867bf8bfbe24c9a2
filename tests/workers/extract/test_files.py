"""File extension fields."""

from __future__ import annotations

import hashlib

from tests.support.paths import RASTERS
from workers.extract.files import file_fields


def test_the_checksum_is_a_sha2_256_multihash() -> None:
    path = RASTERS / "rasterio/byte.tif"
    fields = file_fields(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert fields == {"file:size": 736, "file:checksum": "1220" + digest}
