"""Turning what a caller hands to ``put`` into one async stream of byte chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator

from catalog.storage.base import CHUNK_SIZE, PutData

BYTES_LIKE = (bytes, bytearray, memoryview)


async def iter_chunks(data: PutData, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
    """The bytes of ``data`` as a stream of non-empty chunks.

    Bytes-like data is one chunk, an async iterable is passed through, and a binary file
    object is read in ``chunk_size`` pieces in a worker thread so the event loop never
    blocks on disk. Raises ``TypeError`` for anything else (a text file included).
    """
    if isinstance(data, BYTES_LIKE):
        if len(data):
            yield bytes(data)
        return
    if isinstance(data, AsyncIterable):
        async for chunk in data:
            if len(chunk):
                yield _as_bytes(chunk)
        return
    if not callable(getattr(data, "read", None)):
        raise TypeError(
            f"cannot store a {type(data).__name__}: give bytes, an async "
            "iterable of bytes or a binary file object"
        )
    while chunk := await asyncio.to_thread(data.read, chunk_size):
        yield _as_bytes(chunk)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        raise TypeError("cannot store text: open the file in binary mode or encode it")
    return bytes(chunk)  # type: ignore[call-overload]
