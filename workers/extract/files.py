"""Fields of the STAC file extension (v2.1.0): size and multihash checksum of a file."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.checksums import CHECKSUMS, Multihash, is_multihash

FILE_SCHEMA = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
# Large reads: each chunk costs the hashing thread two GIL hand-overs, which wait up to
# the 5 ms switch interval while the extracting thread runs Python code.
_CHUNK = 8 * 1024 * 1024
INLINE_BYTES = _CHUNK
"""Files up to this size are hashed in the calling thread before it reads the raster:
at over 1 GB/s that costs milliseconds, less than starting and joining a thread whose
few GIL hand-overs wait on the extracting thread (0.8 s over the 35 shared rasters)."""


class HashingStopped(Exception):
    """The caller no longer needs the checksum being computed."""


def multihash(
    path: Path, stop: threading.Event | None = None, algorithm: str = "sha2-256"
) -> str:
    """The file's digest as a hex multihash ("1220" + 64 hex digits for SHA2-256,
    "1e20" + 64 for BLAKE3), read in chunks so memory stays bounded; raises
    ``HashingStopped`` once ``stop`` is set."""
    digest = Multihash(algorithm)
    with path.open("rb", buffering=0) as file:
        # A small file's buffer is its size: zeroing 8 MiB would cost more than hashing.
        buffer = bytearray(max(1, min(_CHUNK, os.fstat(file.fileno()).st_size + 1)))
        view = memoryview(buffer)
        while count := file.readinto(buffer):
            if stop is not None and stop.is_set():
                raise HashingStopped(path.name)
            digest.update(view[:count])
    return digest.hexdigest()


def file_fields(
    path: str | Path, stop: threading.Event | None = None, algorithm: str = "sha2-256"
) -> dict[str, Any]:
    """``file:size`` (bytes) and ``file:checksum`` of a local file."""
    path = Path(path)
    checksum = multihash(path, stop, algorithm)
    return {"file:size": path.stat().st_size, "file:checksum": checksum}


@dataclass(frozen=True)
class KnownChecksum:
    """A file's size and multihash computed where the file was received (an upload,
    hashed while it streamed in), so extraction need not read the file again."""

    size: int
    checksum: str

    def __post_init__(self) -> None:
        if not is_multihash(self.checksum):
            raise ValueError(f"not a multihash of {', '.join(CHECKSUMS)}: {self.checksum!r}")

    def fields_of(self, path: Path) -> dict[str, Any] | None:
        """The file fields of ``path`` when it still has the size this was computed
        for; None otherwise (another file: hash it again)."""
        if path.stat().st_size != self.size:
            return None
        return {"file:size": self.size, "file:checksum": self.checksum}


@contextmanager
def hashing(
    path: str | Path, algorithm: str = "sha2-256", known: KnownChecksum | None = None
) -> Iterator[Callable[[], dict[str, Any]]]:
    """Compute :func:`file_fields` in a background thread while the caller reads the
    raster (both mostly run outside the GIL: GDAL decoding, SHA-256), and yield the
    function that waits for them. Leaving early stops the hashing at the next chunk.

    With a ``known`` checksum of a file of this size, nothing is read."""
    path = Path(path)
    given = known.fields_of(path) if known is not None else None
    if given is not None:
        yield lambda: dict(given)
        return
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stacql-hash") as pool:
        future = pool.submit(file_fields, path, stop, algorithm)
        try:
            yield future.result
        finally:
            stop.set()
