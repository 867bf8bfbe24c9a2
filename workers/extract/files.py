"""Fields of the STAC file extension (v2.1.0): size and multihash checksum of a file."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import blake3

FILE_SCHEMA = "https://stac-extensions.github.io/file/v2.1.0/schema.json"

# Multihash headers (https://multiformats.io/multihash/): function code, digest length.
SHA2_256_MULTIHASH = "1220"  # sha2-256 (0x12), 32 bytes
BLAKE3_MULTIHASH = "1e20"  # blake3 (0x1e), 32 bytes
CHECKSUMS = ("sha2-256", "blake3")
"""The hash functions ``file:checksum`` can use: SHA2-256 is what every tool checks
(``sha256sum``); BLAKE3 is several times faster on large files (``b3sum``)."""
_CHUNK = 1024 * 1024


class HashingStopped(Exception):
    """The caller no longer needs the checksum being computed."""


def multihash(
    path: Path, stop: threading.Event | None = None, algorithm: str = "sha2-256"
) -> str:
    """The file's digest as a hex multihash ("1220" + 64 hex digits for SHA2-256,
    "1e20" + 64 for BLAKE3), read in chunks so memory stays bounded; raises
    ``HashingStopped`` once ``stop`` is set."""
    if algorithm not in CHECKSUMS:
        raise ValueError(f"unknown checksum {algorithm!r}; one of {', '.join(CHECKSUMS)}")
    digest: Any = hashlib.sha256() if algorithm == "sha2-256" else blake3.blake3()
    header = SHA2_256_MULTIHASH if algorithm == "sha2-256" else BLAKE3_MULTIHASH
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as file:
        while count := file.readinto(buffer):
            if stop is not None and stop.is_set():
                raise HashingStopped(path.name)
            digest.update(view[:count])  # both let go of the GIL for large updates
    return header + digest.hexdigest()


def file_fields(
    path: str | Path, stop: threading.Event | None = None, algorithm: str = "sha2-256"
) -> dict[str, Any]:
    """``file:size`` (bytes) and ``file:checksum`` of a local file."""
    path = Path(path)
    checksum = multihash(path, stop, algorithm)
    return {"file:size": path.stat().st_size, "file:checksum": checksum}


@contextmanager
def hashing(
    path: str | Path, algorithm: str = "sha2-256"
) -> Iterator[Callable[[], dict[str, Any]]]:
    """Compute :func:`file_fields` in a background thread while the caller reads the
    raster (both mostly run outside the GIL: GDAL decoding, SHA-256), and yield the
    function that waits for them. Leaving early stops the hashing at the next chunk."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stacql-hash") as pool:
        future = pool.submit(file_fields, path, stop, algorithm)
        try:
            yield future.result
        finally:
            stop.set()
