"""Fields of the STAC file extension (v2.1.0): size and multihash checksum of a file."""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from io import FileIO
from pathlib import Path
from typing import Any, BinaryIO

from catalog.checksums import ALL_CPUS, CHECKSUMS, Multihash, is_multihash

FILE_SCHEMA = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
_WINDOW = 8 * 1024 * 1024  # a multiple of mmap.ALLOCATIONGRANULARITY
"""Bytes of a large file mapped and hashed at a time with BLAKE3. Hashing a mapped
window copies nothing (a read into a buffer copies every byte out of the page cache:
0.04 s of the 0.13 s BLAKE3 took on a 303 MB file while GDAL read it), and one update
per window costs the hashing thread two GIL hand-overs, which may wait on the
extracting thread (38 windows for 303 MB). A window's pages count in the resident size
while mapped."""
_CHUNK = 1024 * 1024
"""Bytes of a large file read and hashed at a time with SHA-256, into one buffer: the
copy out of the page cache leaves them in the CPU's cache for the hash, which then
costs less than hashing mapped windows (0.22 against 0.29 s of CPU for a 303 MB file:
SHA-256 reads each byte slowly enough that mapping and unmapping cost more than the
copy). BLAKE3, several times faster and spread over every CPU, still gains from
mapping (0.085 against 0.105 s)."""
INLINE_BYTES = _WINDOW
"""Files up to this size are hashed in the calling thread before it reads the raster:
at over 1 GB/s that costs milliseconds, less than starting and joining a thread whose
GIL hand-overs wait on the extracting thread."""
# Map a window with its pages already in (fewer page faults); Linux only.
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


class HashingStopped(Exception):
    """The caller no longer needs the checksum being computed."""


def _windows(file: BinaryIO, size: int) -> Iterator[memoryview]:
    """``size`` bytes of ``file``, mapped ``_WINDOW`` at a time, each unmapped once the
    next is asked for. A file cut shorter while mapped would raise SIGBUS on access:
    in a forked work horse that loses the horse, and RQ runs the job again."""
    for offset in range(0, size, _WINDOW):
        window = mmap.mmap(
            file.fileno(), min(_WINDOW, size - offset), flags=mmap.MAP_SHARED | _POPULATE,
            prot=mmap.PROT_READ, offset=offset,
        )
        # The view is released before the window is unmapped (the order of the with).
        with window, memoryview(window) as view:
            yield view


def _chunks(file: FileIO) -> Iterator[memoryview]:
    """The rest of ``file``, read ``_CHUNK`` bytes at a time into one buffer (each
    chunk is valid until the next is asked for)."""
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while count := file.readinto(buffer):
        yield view[:count]


def multihash(
    path: Path, stop: threading.Event | None = None, algorithm: str = "sha2-256",
    threads: int = ALL_CPUS,
) -> Multihash:
    """The digest of the file's bytes (read out as a hex multihash: "1220" + 64 hex
    digits for SHA2-256, "1e20" + 64 for BLAKE3, and its ``size``), a small file read at
    once, a large one a chunk at a time so memory stays bounded (read into one buffer
    for SHA-256, mapped for BLAKE3, which hashes each window with up to ``threads``
    threads). Raises ``HashingStopped`` once ``stop`` is set."""
    digest = Multihash(algorithm, threads)
    with path.open("rb", buffering=0) as file:
        size = os.fstat(file.fileno()).st_size
        if size <= INLINE_BYTES:
            digest.update(file.read())
            return digest
        chunks = _windows(file, size) if algorithm == "blake3" else _chunks(file)
        for chunk in chunks:
            if stop is not None and stop.is_set():
                raise HashingStopped(path.name)
            digest.update(chunk)
    return digest


def file_fields(
    path: str | Path, stop: threading.Event | None = None, algorithm: str = "sha2-256"
) -> dict[str, Any]:
    """``file:size`` (bytes) and ``file:checksum`` of a local file."""
    digest = multihash(Path(path), stop, algorithm)
    return {"file:size": digest.size, "file:checksum": digest.hexdigest()}


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
    """Compute :func:`file_fields` while the caller reads the raster, and yield the
    function that waits for them: a file larger than :data:`INLINE_BYTES` is hashed in
    a background thread (GDAL's decoding and both hashes mostly run outside the GIL), so
    the extraction costs the longer of the two, not their sum; leaving early stops the
    hashing at the next window. A smaller file is hashed at once, before the raster is
    read. With a ``known`` checksum of a file of this size, nothing is read."""
    path = Path(path)
    given = known.fields_of(path) if known is not None else None
    if given is None and path.stat().st_size <= INLINE_BYTES:
        given = file_fields(path, algorithm=algorithm)
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
