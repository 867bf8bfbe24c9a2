"""``uploadAsset`` behind the resolver: stage, check, store, queue — or leave nothing.

The file is streamed to a private temporary folder (bounded in size), checked to be a
georeferenced raster of bounded pixel count (``catalog.rasters``), then written to the
asset store; the job is queued last. If any step fails, what was stored is removed, so
a refused upload or a queue that is down never leaves a file without its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

from strawberry.file_uploads import Upload

from catalog.checksums import Multihash
from catalog.errors import InvalidInput, ServiceUnavailable
from catalog.operations import UploadedRaster
from catalog.rasters import check_raster
from catalog.storage import AssetStore
from graphql_api.context import Services

CHUNK = 1024 * 1024
MAX_SIDECAR_BYTES = 16 * 1024 * 1024
"""A sidecar is a provider's metadata record (FGDC text or XML): kilobytes, and text.
Stored unchecked, a sidecar could carry a raster past the raster checks (issue 16)."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str | None, fallback: str) -> str:
    """A file name that cannot leave its folder: the last path part, unusual characters
    replaced, no leading dots."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = _UNSAFE.sub("_", name).strip("._")
    return name or fallback


async def _stage(upload: Upload, target: Path, limit: int, checksum: str = "sha2-256") -> Multihash:
    """Write the upload to ``target`` and return its checksum, hashed as it streams in,
    so no one reads the file again for ``file:checksum``.

    Writing and hashing a chunk (about 1 ms per MiB of SHA-256) run in a thread, off the
    event loop, while the next chunk is received; one chunk at a time, in order, so the
    digest is of the bytes as they arrived."""
    digest = Multihash(checksum)
    received = 0
    pending: asyncio.Future[None] | None = None
    with target.open("wb") as out:

        def consume(chunk: bytes) -> None:
            out.write(chunk)
            digest.update(chunk)

        try:
            while chunk := await upload.read(CHUNK):
                received += len(chunk)
                if received > limit:
                    raise InvalidInput(f"the file exceeds the upload limit of {limit} bytes")
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(asyncio.to_thread(consume, chunk))
        finally:
            # Never close the file under a write still running (also when refused).
            if pending is not None:
                await asyncio.wait([pending])
        if pending is not None:
            pending.result()
    if received == 0:
        raise InvalidInput(f"{target.name} is empty")
    return digest


def _check_sidecar(path: Path) -> None:
    """Refuse a sidecar that is not text (a NUL byte: a raster or other binary file)."""
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            if b"\0" in chunk:
                raise InvalidInput(
                    "the sidecar must be a text metadata record (FGDC text or XML)"
                )


async def _put(store: AssetStore, key: str, path: Path, stored: list[str]) -> str:
    with path.open("rb") as data:
        key = (await store.put(key, data)).key
    stored.append(key)
    return key


async def store_upload(
    services: Services,
    file: Upload,
    sidecar: Upload | None,
    request: UploadedRaster,
) -> UploadedRaster:
    """Stage, check and store the raster (and sidecar) of ``request``, whose ``key`` is the
    folder to store them in; returns the request naming the stored keys."""
    if services.store is None:
        raise ServiceUnavailable("uploads are not enabled on this server")
    limits = services.limits
    name = safe_name(getattr(file, "filename", None), "raster.tif")
    stored: list[str] = []
    with tempfile.TemporaryDirectory(prefix="stacql-upload-") as folder:
        raster = Path(folder) / name
        digest = await _stage(file, raster, limits.max_upload_bytes, services.checksum)
        await asyncio.to_thread(check_raster, raster, limits.max_upload_pixels)
        try:
            key = await _put(services.store, f"{request.key}/{name}", raster, stored)
            metadata_key = None
            if sidecar is not None:
                side = Path(folder) / safe_name(getattr(sidecar, "filename", None), "metadata")
                await _stage(sidecar, side, min(limits.max_upload_bytes, MAX_SIDECAR_BYTES))
                await asyncio.to_thread(_check_sidecar, side)
                metadata_key = await _put(
                    services.store, f"{request.key}/{side.name}", side, stored
                )
        except BaseException:
            await _remove(services.store, stored)
            raise
    return UploadedRaster(**{
        **vars(request), "key": key, "metadata_key": metadata_key,
        "file_size": digest.size, "file_checksum": digest.hexdigest(),
    })


async def _remove(store: AssetStore, keys: list[str]) -> None:
    for key in keys:
        with contextlib.suppress(Exception):
            await store.delete(key)


@contextlib.asynccontextmanager
async def removed_on_error(services: Services, upload: UploadedRaster) -> AsyncIterator[None]:
    """Remove the stored files of ``upload`` when the block (queueing its job) fails."""
    try:
        yield
    except BaseException:
        assert services.store is not None
        await _remove(services.store, [k for k in (upload.key, upload.metadata_key) if k])
        raise
