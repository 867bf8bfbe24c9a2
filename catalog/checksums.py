"""Multihash checksums of files (the STAC file extension's ``file:checksum``), computed
chunk by chunk: while an upload is received, or while a worker reads a stored file.

A multihash (https://multiformats.io/multihash/) is the hash function's code and the
digest's length, then the digest, all in hex: ``1220`` + 64 hex digits for SHA2-256,
``1e20`` + 64 for BLAKE3.
"""

from __future__ import annotations

import hashlib
from typing import Any

import blake3

SHA2_256_MULTIHASH = "1220"  # sha2-256 (0x12), 32 bytes
BLAKE3_MULTIHASH = "1e20"  # blake3 (0x1e), 32 bytes
CHECKSUMS = ("sha2-256", "blake3")
"""The hash functions ``file:checksum`` can use: SHA2-256 is what every tool checks
(``sha256sum``); BLAKE3 is several times faster on large files (``b3sum``)."""
_HEADERS = {"sha2-256": SHA2_256_MULTIHASH, "blake3": BLAKE3_MULTIHASH}
ALL_CPUS = blake3.blake3.AUTO
"""``Multihash(threads=ALL_CPUS)``: BLAKE3 splits a large update over one thread per CPU."""


class Multihash:
    """A running hash of bytes fed in order, read out as a hex multihash."""

    def __init__(self, algorithm: str = "sha2-256", threads: int = 1) -> None:
        """``threads``: how many threads BLAKE3 may hash one large update with (-1: one
        per CPU); SHA-256 is sequential and ignores it."""
        if algorithm not in CHECKSUMS:
            raise ValueError(f"unknown checksum {algorithm!r}; one of {', '.join(CHECKSUMS)}")
        self.algorithm = algorithm
        self.size = 0
        self._digest: Any = (
            hashlib.sha256() if algorithm == "sha2-256" else blake3.blake3(max_threads=threads)
        )

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed the next bytes (both hashes let go of the GIL for large updates)."""
        self._digest.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        """The multihash of the bytes fed so far."""
        return _HEADERS[self.algorithm] + self._digest.hexdigest()


def is_multihash(value: object) -> bool:
    """Whether ``value`` is a hex multihash of one of :data:`CHECKSUMS`."""
    if not isinstance(value, str) or len(value) != 68 or value[:4] not in _HEADERS.values():
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True
