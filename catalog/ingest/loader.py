"""Bulk loading from files: collections first, items in large batches, one transaction
per batch, with a progress callback. Loading the same data twice changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.errors import CatalogError
from catalog.ingest.collections import upsert_collection
from catalog.ingest.items import UpsertSummary, upsert_items
from catalog.ingest.sources import SourceDocument, iter_file, stac_files
from catalog.stac.items import ItemRecord, normalize_item, normalize_items

DEFAULT_BATCH_SIZE = 5_000
Progress = Callable[[str, int], None]


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


async def _flush(
    sessions: async_sessionmaker[AsyncSession],
    batch: list[SourceDocument],
    report: LoadReport,
    collection_id: str | None,
) -> None:
    if not batch:
        return
    try:
        records = _valid_records(batch, report, collection_id)
        async with sessions() as session, session.begin():
            report.items += await upsert_items(session, records)
    except CatalogError as exc:
        report.errors.append(f"{batch[0].source} .. {batch[-1].source}: {exc}")
    batch.clear()


def _valid_records(
    batch: list[SourceDocument], report: LoadReport, collection_id: str | None
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
                report.errors.append(f"{document.source}: {exc}")
        return records


async def _load_collection(
    sessions: async_sessionmaker[AsyncSession], document: SourceDocument, report: LoadReport
) -> None:
    try:
        async with sessions() as session, session.begin():
            outcome = await upsert_collection(session, document.doc)
        report.collections[outcome] = report.collections.get(outcome, 0) + 1
    except CatalogError as exc:
        report.errors.append(f"{document.source}: {exc}")


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
    report and the load goes on. ``progress(label, n)`` is called as documents are read.
    """
    report = LoadReport()
    files = stac_files(path)
    for file in _collections_first(files):
        batch: list[SourceDocument] = []
        try:
            for document in iter_file(file):
                if document.kind == "collection":
                    await _flush(sessions, batch, report, collection_id)
                    await _load_collection(sessions, document, report)
                else:
                    batch.append(document)
                    if len(batch) >= batch_size:
                        await _flush(sessions, batch, report, collection_id)
                if progress:
                    progress(str(file), 1)
        except CatalogError as exc:
            report.errors.append(str(exc))
            batch.clear()
        await _flush(sessions, batch, report, collection_id)
    return report


def _collections_first(files: list[Path]) -> list[Path]:
    """Files that look like collections first, so their items find them in a folder."""
    def rank(path: Path) -> int:
        name = path.name.lower()
        return 0 if "collection" in name or name == "catalog.json" else 1

    return sorted(files, key=rank)
