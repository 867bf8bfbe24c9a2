"""Fields of the STAC file extension (v2.1.0): size and multihash checksum of a file."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FILE_SCHEMA = "https://stac-extensions.github.io/file/v2.1.0/schema.json"

# Multihash header of a SHA2-256 digest: function code 0x12, digest length 0x20.
# https://multiformats.io/multihash/
SHA2_256_MULTIHASH = "1220"
_CHUNK = 1024 * 1024


class HashingStopped(Exception):
    """The caller no longer needs the checksum being computed."""


def sha256_multihash(path: Path, stop: threading.Event | None = None) -> str:
    """The file's SHA2-256 digest as a hex multihash ("1220" + 64 hex digits), read in
    chunks so memory stays bounded; raises ``HashingStopped`` once ``stop`` is set."""
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as file:
        while count := file.readinto(buffer):
            if stop is not None and stop.is_set():
                raise HashingStopped(path.name)
            digest.update(view[:count])  # hashlib lets go of the GIL for large updates
    return SHA2_256_MULTIHASH + digest.hexdigest()


def file_fields(path: str | Path, stop: threading.Event | None = None) -> dict[str, Any]:
    """``file:size`` (bytes) and ``file:checksum`` of a local file."""
    path = Path(path)
    return {"file:size": path.stat().st_size, "file:checksum": sha256_multihash(path, stop)}


@contextmanager
def hashing(path: str | Path) -> Iterator[Callable[[], dict[str, Any]]]:
    """Compute :func:`file_fields` in a background thread while the caller reads the
    raster (both mostly run outside the GIL: GDAL decoding, SHA-256), and yield the
    function that waits for them. Leaving early stops the hashing at the next chunk."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stacql-hash") as pool:
        future = pool.submit(file_fields, path, stop)
        try:
            yield future.result
        finally:
            stop.set()
