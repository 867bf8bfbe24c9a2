"""An export from search to file: items streamed to ndjson, then converted if asked."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.assets import AssetUrls
from catalog.errors import UnknownCollection
from catalog.export.formats import GEOPARQUET
from catalog.export.items import PAGE_SIZE, item_pages
from catalog.export.spec import ExportSpec
from catalog.search.engine import count_matches
from catalog.search.lookup import get_collection
from catalog.storage import AssetStore

Progress = Callable[[float, str], None]
"""Told how far an export is (a fraction in [0, 1]) and what it does."""
EXPORT_PREFIX = "_exports"
"""Store folder of export files, named by job id (uploads sit two levels deeper, in
``<collection>/<item>/``, so even a collection named so cannot overwrite one)."""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: how many items of which collections, the file's size, and
    its key in the store (None for a file written elsewhere)."""

    format: str
    media_type: str
    items: int
    bytes: int
    collections: tuple[str, ...]
    key: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The result as a job row holds it."""
        return {
            "format": self.format, "media_type": self.media_type, "items": self.items,
            "bytes": self.bytes, "collections": list(self.collections), "key": self.key,
        }


def export_key(job_id: str, spec: ExportSpec) -> str:
    """Where the file of export job ``job_id`` is stored."""
    return f"{EXPORT_PREFIX}/{job_id}{spec.file_format.suffix}"


async def _collection_documents(
    sessions: async_sessionmaker[AsyncSession], ids: list[str], spec: ExportSpec
) -> dict[str, dict[str, Any]]:
    documents = {}
    async with sessions() as session:
        for collection_id in ids:
            try:
                documents[collection_id] = await get_collection(
                    session, collection_id, spec.caller.readable_private
                )
            except UnknownCollection:
                continue  # deleted or hidden since its items were read
    return documents


async def export_to_file(
    sessions: async_sessionmaker[AsyncSession],
    spec: ExportSpec,
    target: Path,
    *,
    urls: AssetUrls | None = None,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> ExportResult:
    """Write every item ``spec``'s search matches for its caller to the local file
    ``target``, holding one page of items in memory at a time (and one Arrow chunk
    while converting to stac-geoparquet). The file appears whole or not at all (it is
    written beside ``target``, then renamed). Raises ``InvalidInput`` subclasses for a
    bad search."""
    file_format = spec.file_format
    report = progress or (lambda _fraction, _message: None)
    request = await asyncio.to_thread(spec.request, page_size)
    async with sessions() as session:
        total = await count_matches(session, request)
    # ndjson is written first in either case: the geoparquet conversion reads it twice.
    share = 0.5 if file_format is GEOPARQUET else 1.0
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".stacql-export-") as folder:
        ndjson = Path(folder) / "items.ndjson"
        written, seen = 0, dict[str, None]()
        with ndjson.open("wb") as out:
            async for page in item_pages(sessions, request, urls):
                out.writelines(line for _, line in page)
                seen.update(dict.fromkeys(collection for collection, _ in page))
                written += len(page)
                report(share * min(written / max(total, 1), 1.0),
                       f"{written} of {total} items read")
        done = ndjson
        if file_format is GEOPARQUET:
            done = Path(folder) / "items.parquet"
            await _convert(sessions, spec, ndjson, done, (written, list(seen)), report)
        size = done.stat().st_size
        done.replace(target)
    return ExportResult(
        file_format.name, file_format.media_type, written, size, tuple(seen)
    )


async def _convert(
    sessions: async_sessionmaker[AsyncSession], spec: ExportSpec, ndjson: Path,
    target: Path, found: tuple[int, list[str]], report: Progress,
) -> None:
    from catalog.export.geoparquet import empty_geoparquet, ndjson_to_geoparquet

    count, collection_ids = found
    if count == 0:
        await asyncio.to_thread(empty_geoparquet, target)
        return
    collections = await _collection_documents(sessions, collection_ids, spec)

    def converted(done: int) -> None:
        report(0.5 + 0.5 * done / count, f"{done} of {count} items converted")

    await asyncio.to_thread(
        ndjson_to_geoparquet, ndjson, target, collections=collections, progress=converted
    )


async def run_export(
    sessions: async_sessionmaker[AsyncSession],
    store: AssetStore,
    key: str,
    spec: ExportSpec,
    *,
    urls: AssetUrls | None = None,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> ExportResult:
    """Export ``spec`` to a temporary file, then store it at ``key``; returns what was
    written. Nothing is stored when the export fails."""
    with tempfile.TemporaryDirectory(prefix="stacql-export-") as folder:
        path = Path(folder) / f"export{spec.file_format.suffix}"
        result = await export_to_file(
            sessions, spec, path, urls=urls, progress=progress, page_size=page_size
        )
        with path.open("rb") as file:
            await store.put(key, file)
    return ExportResult(
        result.format, result.media_type, result.items, result.bytes, result.collections, key
    )
