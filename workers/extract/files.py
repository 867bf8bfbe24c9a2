"""Fields of the STAC file extension (v2.1.0): size and multihash checksum of a file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

FILE_SCHEMA = "https://stac-extensions.github.io/file/v2.1.0/schema.json"

# Multihash header of a SHA2-256 digest: function code 0x12, digest length 0x20.
# https://multiformats.io/multihash/
SHA2_256_MULTIHASH = "1220"
_CHUNK = 1024 * 1024


def sha256_multihash(path: Path) -> str:
    """The file's SHA2-256 digest as a hex multihash ("1220" + 64 hex digits), read in
    chunks so memory stays bounded."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return SHA2_256_MULTIHASH + digest.hexdigest()


def file_fields(path: str | Path) -> dict[str, Any]:
    """``file:size`` (bytes) and ``file:checksum`` of a local file."""
    path = Path(path)
    return {"file:size": path.stat().st_size, "file:checksum": sha256_multihash(path)}
