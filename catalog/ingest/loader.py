"""Bulk loading from files: collections first, items in large batches, one transaction
per batch, with a progress callback. Loading the same data twice changes nothing.

Reading, decoding, validating and encoding a batch is CPU work; writing it is mostly the
database's. The two overlap: while one batch is written, a worker thread prepares the
next, so a load takes about as long as the slower of the two rather than their sum.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.errors import CatalogError
from catalog.ingest.collections import upsert_collection
from catalog.ingest.items import PreparedItems, UpsertSummary, prepare_items, upsert_prepared
from catalog.ingest.sources import SourceDocument, iter_file, stac_files
from catalog.stac.items import ItemRecord, normalize_item, normalize_items

DEFAULT_BATCH_SIZE = 5_000
Progress = Callable[[str, int], None]
# Generation-0 threshold of the garbage collector while a load runs (the default is 700).
BULK_GC_THRESHOLD = 50_000


@dataclass
class LoadReport:
    """What a load did, and what it refused (file or line, and why)."""

    collections: dict[str, int] = field(default_factory=dict)
    items: UpsertSummary = field(default_factory=UpsertSummary)
    errors: list[str] = field(default_factory=list)

    def __iadd__(self, other: LoadReport) -> LoadReport:
        for outcome, count in other.collections.items():
            self.collections[outcome] = self.collections.get(outcome, 0) + count
        self.items += other.items
        self.errors.extend(other.errors)
        return self

    @property
    def ok(self) -> bool:
        """True when every document was accepted."""
        return not self.errors


@dataclass(frozen=True)
class _ItemBatch:
    """Consecutive items of a file, validated and encoded, with the refused ones."""

    first_source: str
    last_source: str
    size: int
    prepared: PreparedItems
    errors: list[str]


def _valid_records(
    batch: list[SourceDocument], errors: list[str], collection_id: str | None
) -> list[ItemRecord]:
    """The batch's records; when some item is bad, each is checked alone so the bad
    ones are reported one by one and the good ones still load."""
    try:
        return normalize_items([d.doc for d in batch], collection_id)
    except CatalogError:
        records = []
        for document in batch:
            try:
                records.append(normalize_item(document.doc, collection_id))
            except CatalogError as exc:
                errors.append(f"{document.source}: {exc}")
        return records


def _prepare(batch: list[SourceDocument], collection_id: str | None) -> _ItemBatch:
    errors: list[str] = []
    records = _valid_records(batch, errors, collection_id)
    return _ItemBatch(
        batch[0].source, batch[-1].source, len(batch), prepare_items(records), errors
    )


def _units(
    file: Path, collection_id: str | None, batch_size: int
) -> Iterator[SourceDocument | _ItemBatch]:
    """The file's documents in order: each collection alone, items in prepared batches.

    A malformed file raises ``CatalogError`` once the units before the fault are out;
    the items read since the last full batch are dropped with it.
    """
    batch: list[SourceDocument] = []
    for document in iter_file(file):
        if document.kind == "collection":
            if batch:
                yield _prepare(batch, collection_id)
                batch = []
            yield document
        else:
            batch.append(document)
            if len(batch) >= batch_size:
                yield _prepare(batch, collection_id)
                batch = []
    if batch:
        yield _prepare(batch, collection_id)


async def _write_batch(
    sessions: async_sessionmaker[AsyncSession], batch: _ItemBatch, report: LoadReport
) -> None:
    report.errors.extend(batch.errors)
    try:
        async with sessions() as session, session.begin():
            report.items += await upsert_prepared(session, batch.prepared)
    except CatalogError as exc:
        report.errors.append(f"{batch.first_source} .. {batch.last_source}: {exc}")


async def _load_collection(
    sessions: async_sessionmaker[AsyncSession], document: SourceDocument, report: LoadReport
) -> None:
    try:
        async with sessions() as session, session.begin():
            outcome = await upsert_collection(session, document.doc)
        report.collections[outcome] = report.collections.get(outcome, 0) + 1
    except CatalogError as exc:
        report.errors.append(f"{document.source}: {exc}")


async def _load_file(
    sessions: async_sessionmaker[AsyncSession],
    file: Path,
    report: LoadReport,
    collection_id: str | None,
    batch_size: int,
    progress: Progress | None,
) -> None:
    units = _units(file, collection_id, batch_size)
    upcoming = asyncio.ensure_future(asyncio.to_thread(next, units, None))
    try:
        while (unit := await upcoming) is not None:
            # The worker thread prepares the next unit while this one is written.
            upcoming = asyncio.ensure_future(asyncio.to_thread(next, units, None))
            if isinstance(unit, _ItemBatch):
                await _write_batch(sessions, unit, report)
            else:
                await _load_collection(sessions, unit, report)
            if progress:
                progress(str(file), unit.size if isinstance(unit, _ItemBatch) else 1)
    except CatalogError as exc:
        report.errors.append(str(exc))
    finally:
        upcoming.cancel()  # after an unexpected error: drop what the thread prepares


@contextmanager
def _bulk_gc() -> Iterator[None]:
    """Run the cyclic garbage collector less often during a load.

    A batch in flight is hundreds of thousands of decoded JSON containers, acyclic and
    freed by reference counting. At the default threshold the collector rescans them
    every 700 allocations and takes about half of the CPU time of a load. Nested or
    concurrent loads leave the setting to the outermost one.
    """
    previous = gc.get_threshold()
    if previous[0] >= BULK_GC_THRESHOLD:
        yield
        return
    gc.set_threshold(BULK_GC_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


async def load_path(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    collection_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> LoadReport:
    """Load every STAC document under ``path`` (see ``catalog.ingest.sources``).

    Collections are written before the items of the same file; items go in batches of
    ``batch_size``, each batch all-or-nothing. A bad file or batch is recorded in the
    report and the load goes on. ``progress(label, n)`` is called as documents are
    written (``n`` of them from file ``label``).
    """
    report = LoadReport()
    with _bulk_gc():
        for file in _collections_first(stac_files(path)):
            await _load_file(sessions, file, report, collection_id, batch_size, progress)
    return report


def _collections_first(files: list[Path]) -> list[Path]:
    """Files that look like collections first, so their items find them in a folder."""
    def rank(path: Path) -> int:
        name = path.name.lower()
        return 0 if "collection" in name or name == "catalog.json" else 1

    return sorted(files, key=rank)
