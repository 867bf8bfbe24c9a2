"""Bulk loading from files: collections first, items in large batches, one transaction
per batch, with a progress callback. Loading the same data twice changes nothing.

Reading, decoding, validating and encoding a batch is CPU work; writing it is mostly the
database's. The two overlap: while batches are written (two at a time, each on its own
connection, see ``_WritePipeline``), the next ones are prepared, so a load takes about as
long as the slower of the two rather than their sum. Large ndjson files are prepared in
worker processes, one run of lines each, read by the worker itself, since Python code in
a thread would hold the interpreter lock against the writers and run on one core; other
files are prepared by a worker thread.

The items of a collection whose partition is empty go first into a staging table,
indexed once they are all in (``catalog.ingest.staging``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db.errors import translate_db_errors
from catalog.db.partitions import analyze_new_partitions
from catalog.errors import CatalogError, DatabaseUnavailable
from catalog.ingest.collections import upsert_collection
from catalog.ingest.items import PreparedItems, UpsertSummary, prepare_items, upsert_prepared
from catalog.ingest.sources import (
    NDJSON_SUFFIXES,
    SourceDocument,
    iter_file,
    ndjson_documents,
    stac_files,
)
from catalog.ingest.staging import STAGE_MIN_ITEMS, Staging
from catalog.stac.items import ItemRecord, normalize_item, normalize_items

DEFAULT_BATCH_SIZE = 5_000
# Batches written at once, each on its own connection (and database backend).
DEFAULT_WRITERS = 2
# More processes than this prepare batches faster than the writers write them.
MAX_PROCESSES = 4
# Below this size an ndjson file is prepared by a thread: starting processes costs more.
PROCESS_MIN_BYTES = 16 * 1024 * 1024
Progress = Callable[[str, int], None]
log = logging.getLogger(__name__)
T = TypeVar("T")
# Seconds to wait before each new attempt at a write the database was unavailable for
# (some 30 s in all); past them the load stops, and loading again completes it.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def retry_delays_within(seconds: float) -> tuple[float, ...]:
    """The first of ``RETRY_DELAYS`` whose sum stays within ``seconds`` (0: no retry)."""
    delays, spent = [], 0.0
    for delay in RETRY_DELAYS:
        spent += delay
        if spent > seconds:
            break
        delays.append(delay)
    return tuple(delays)


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
    """Validate and encode a batch of item documents; the bad ones become errors."""
    errors: list[str] = []
    records = _valid_records(batch, errors, collection_id)
    return _ItemBatch(
        batch[0].source, batch[-1].source, len(batch), prepare_items(records), errors
    )


Unit = SourceDocument | _ItemBatch


def _units(
    documents: Iterable[SourceDocument], collection_id: str | None, batch_size: int
) -> Iterator[Unit]:
    """The documents in order: each collection alone, items in prepared batches.

    A malformed file raises ``CatalogError`` once the units before the fault are out;
    the items read since the last full batch are dropped with it.
    """
    batch: list[SourceDocument] = []
    for document in documents:
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


async def _retried(write: Callable[[], Awaitable[T]], delays: Sequence[float]) -> T:
    """``write()``, tried again after each of ``delays`` while the database is
    unavailable; ``DatabaseUnavailable`` once they are spent (the load stops there:
    every batch is all-or-nothing, so loading again completes it)."""
    for delay in delays:
        try:
            with translate_db_errors():  # also what the commit, outside the writes, meets
                return await write()
        except DatabaseUnavailable as exc:
            log.warning("database unavailable (%s); trying again in %.1f s", exc, delay)
            await asyncio.sleep(delay)
    with translate_db_errors():
        return await write()


async def _write_batch(
    target: _LoadTarget, batch: _ItemBatch, likely_new: bool, table: str
) -> bool:
    """Write a batch into ``table``; True when all its items were new (so the next ones
    likely are)."""

    async def write() -> UpsertSummary:
        async with target.sessions() as session, session.begin():
            # The commit does not wait for the WAL flush: the writer goes on to the next
            # batch at once. A crash can lose the last batches reported written, never
            # half of one, and loading the file again completes it.
            await session.execute(text("SET LOCAL synchronous_commit = off"))
            return await upsert_prepared(
                session, batch.prepared, likely_new=likely_new, table=table
            )

    try:
        summary = await _retried(write, target.retry_delays)
    except DatabaseUnavailable:
        raise
    except CatalogError as exc:
        target.report.errors.append(f"{batch.first_source} .. {batch.last_source}: {exc}")
        return False
    target.report.items += summary
    return summary.inserted == len(batch.prepared)


async def _load_collection(target: _LoadTarget, document: SourceDocument) -> None:
    async def write() -> str:
        async with target.sessions() as session, session.begin():
            return await upsert_collection(session, document.doc)

    report = target.report
    try:
        outcome = await _retried(write, target.retry_delays)
    except DatabaseUnavailable:
        raise
    except CatalogError as exc:
        report.errors.append(f"{document.source}: {exc}")
        return
    report.collections[outcome] = report.collections.get(outcome, 0) + 1


@dataclass(frozen=True)
class _LoadTarget:
    """Where and how a load writes: sessions, the report, the options of ``load_path``."""

    sessions: async_sessionmaker[AsyncSession]
    report: LoadReport
    collection_id: str | None
    batch_size: int
    progress: Progress | None
    writers: int
    staging: Staging
    retry_delays: Sequence[float] = RETRY_DELAYS


class _WritePipeline:
    """Writes the units of a file in their order on up to ``writers`` connections at once.

    The database does most of its work for a batch in the backend serving its
    connection, one core per connection: two batches written at once use two. Order
    still holds where it matters: a collection is written after every unit before it
    and before any after it, and a batch sharing an item with one being written waits
    for it, so the later occurrence of an item wins as in a sequential load.
    """

    def __init__(self, target: _LoadTarget, file: Path, writers: int) -> None:
        self.target = target
        self.file = file
        self.writers = max(writers, 1)
        self.in_flight: dict[asyncio.Task[None], set[tuple[str, str]]] = {}
        self.likely_new = False

    async def put(self, unit: Unit) -> None:
        """Write ``unit`` after what it must follow; returns once its write has started
        (a collection: once it is written)."""
        if not isinstance(unit, _ItemBatch):
            await self.drain()
            await _load_collection(self.target, unit)
            self._progress(1)
            return
        self.target.report.errors.extend(unit.errors)
        table = await self._table(unit)
        keys = unit.prepared.keys()
        overlapping = [t for t, held in self.in_flight.items() if not held.isdisjoint(keys)]
        if overlapping:
            await self._wait(overlapping)
        while len(self.in_flight) >= self.writers:
            await self._wait(list(self.in_flight), asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(self._write(unit, self.likely_new, table))
        self.in_flight[task] = keys

    async def _table(self, batch: _ItemBatch) -> str:
        """Where the batch goes: the staging table of its collection when the load
        stages it (``catalog.ingest.staging``), else ``items``. A batch of several
        collections goes into ``items``, after the staged items of its collections are
        put in place (so a later occurrence of an item still wins)."""
        staging = self.target.staging
        collections = sorted(set(batch.prepared.collection_ids))
        if len(collections) == 1:
            await staging.decide(collections[0], len(batch.prepared))
            return staging.table_of(collections[0])
        staged = staging.staged(collections)
        if staged:
            await self.drain()
            for collection_id in staged:
                await staging.finish(collection_id, self.writers)
        staging.settle(collections)
        return "items"

    async def drain(self) -> None:
        """Wait for every write in flight."""
        if self.in_flight:
            await self._wait(list(self.in_flight))

    async def close(self) -> None:
        """Cancel the writes still in flight (after an error) and wait for their end."""
        for task in self.in_flight:
            task.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)
        self.in_flight.clear()

    async def _wait(
        self, tasks: list[asyncio.Task[None]], when: str = asyncio.ALL_COMPLETED
    ) -> None:
        done, _ = await asyncio.wait(tasks, return_when=when)
        for task in done:
            del self.in_flight[task]
            task.result()  # an unexpected error ends the load, as in a sequential one

    async def _write(self, batch: _ItemBatch, likely_new: bool, table: str) -> None:
        self.likely_new = await _write_batch(self.target, batch, likely_new, table)
        self._progress(batch.size)

    def _progress(self, count: int) -> None:
        if self.target.progress:
            self.target.progress(str(self.file), count)


@asynccontextmanager
async def _pipeline(target: _LoadTarget, file: Path) -> AsyncIterator[_WritePipeline]:
    """A write pipeline for ``file``, drained when the block ends (cancelled on error)."""
    pipeline = _WritePipeline(target, file, target.writers)
    try:
        yield pipeline
        await pipeline.drain()
    finally:
        await pipeline.close()


async def _load_file(target: _LoadTarget, file: Path) -> None:
    units = _units(iter_file(file), target.collection_id, target.batch_size)
    upcoming = asyncio.ensure_future(asyncio.to_thread(next, units, None))
    try:
        async with _pipeline(target, file) as pipeline:
            while True:
                try:
                    unit = await upcoming
                except CatalogError as exc:  # a malformed file: what precedes it is kept
                    await pipeline.drain()
                    target.report.errors.append(str(exc))
                    return
                if unit is None:
                    return
                # The worker thread prepares the next unit while this one is written.
                upcoming = asyncio.ensure_future(asyncio.to_thread(next, units, None))
                await pipeline.put(unit)
    finally:
        upcoming.cancel()  # after an unexpected error: drop what the thread prepares


def _prepare_lines(
    path: str, first_number: int, offset: int, length: int, collection_id: str | None
) -> tuple[list[Unit], CatalogError | None]:
    """Worker-process entry: the units of the ndjson lines in ``length`` bytes of
    ``path`` from ``offset`` (line ``first_number`` first), and the error that ended them
    early (a malformed line), if any. The worker reads the lines itself: the loader's
    process only finds where each run of lines starts."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(length)
    lines = data.split(b"\n")
    if not lines[-1]:
        lines.pop()  # what follows the last newline
    units: list[Unit] = []
    documents = ndjson_documents(enumerate(lines, start=first_number), path)
    with _gc_paused():
        try:
            for unit in _units(documents, collection_id, max(len(lines), 1)):
                units.append(unit)
        except CatalogError as exc:
            return units, exc
    return units, None


def _line_chunks(
    file: Path, size: int, block_size: int = 1 << 22
) -> Iterator[tuple[int, int, int]]:
    """(number of the first line, byte offset, byte length) of each run of ``size`` lines
    of a file (the last run may be shorter), found without splitting the lines."""
    with file.open("rb") as handle:
        number, start, position, lines = 1, 0, 0, 0
        while block := handle.read(block_size):
            cursor = 0
            while lines + block.count(b"\n", cursor) >= size:
                for _ in range(size - lines):
                    cursor = block.index(b"\n", cursor) + 1
                end = position + cursor
                yield number, start, end - start
                number, start, lines = number + size, end, 0
            lines += block.count(b"\n", cursor)
            position += len(block)
        if position > start:
            yield number, start, position - start


async def _load_ndjson_in_processes(
    target: _LoadTarget, file: Path, pool: Executor, processes: int
) -> None:
    """Load an ndjson file whose batches are prepared by ``pool``, written in order.

    Up to one batch per process, plus one, is prepared ahead of the writer. A malformed
    line ends the file as in ``_load_file``: what precedes its batch is written, the
    rest is dropped.
    """
    loop = asyncio.get_running_loop()
    chunks = _line_chunks(file, target.batch_size)
    pending: deque[asyncio.Future[tuple[list[Unit], CatalogError | None]]] = deque()

    def submit() -> None:
        chunk = next(chunks, None)
        if chunk is not None:
            pending.append(loop.run_in_executor(
                pool, _prepare_lines, str(file), *chunk, target.collection_id
            ))

    try:
        async with _pipeline(target, file) as pipeline:
            for _ in range(processes + 1):
                submit()
            while pending:
                units, error = await pending.popleft()
                submit()
                for unit in units:
                    await pipeline.put(unit)
                if error is not None:
                    await pipeline.drain()
                    target.report.errors.append(str(error))
                    return
    finally:
        for future in pending:
            future.cancel()


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


def _uses_processes(file: Path, processes: int | None) -> bool:
    if processes == 0 or file.suffix not in NDJSON_SUFFIXES:
        return False
    return processes is not None or file.stat().st_size >= PROCESS_MIN_BYTES


@contextmanager
def _process_pool(size: int) -> Iterator[ProcessPoolExecutor]:
    # Fork: workers start at once with the modules already imported (a fresh
    # interpreter would spend a second importing them). The pool forks all its workers
    # on the first submit, before it starts its own thread: submit at once, before this
    # load starts any thread either.
    pool = ProcessPoolExecutor(size, mp_context=multiprocessing.get_context("fork"))
    try:
        pool.submit(gc.isenabled)
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a worker process prepares a batch (see
    ``_bulk_gc``: a process busy with nothing else need not scan at all)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def load_path(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    collection_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    processes: int | None = None,
    writers: int = DEFAULT_WRITERS,
    retry_delays: Sequence[float] = RETRY_DELAYS,
    stage_min_items: int = STAGE_MIN_ITEMS,
) -> LoadReport:
    """Load every STAC document under ``path`` (see ``catalog.ingest.sources``).

    Collections are written before the items of the same file; items go in batches of
    ``batch_size``, each batch all-or-nothing. A bad file or batch is recorded in the
    report and the load goes on. ``progress(label, n)`` is called as documents are
    written (``n`` of them from file ``label``).

    ``processes`` worker processes prepare the batches of ndjson files; by default, one
    per CPU (at most ``MAX_PROCESSES``) for files of at least ``PROCESS_MIN_BYTES``; 0
    prepares everything in a thread of this process. Up to ``writers`` batches are
    written at once, each on its own connection of ``sessions``.

    A write the database is unavailable for is tried again after each of
    ``retry_delays`` seconds; then ``DatabaseUnavailable`` stops the load. What was
    written stays, and loading the same path again writes only what is missing.

    A collection whose partition is empty and whose first batch holds at least
    ``stage_min_items`` items is loaded into a staging table, indexed once its items
    are in, and swapped in for the partition at the end of the load (see
    ``catalog.ingest.staging``): its items appear all at once, and a load that stops
    on an error writes none of them.
    """
    report = LoadReport()
    staging = Staging(sessions, stage_min_items)
    target = _LoadTarget(
        sessions, report, collection_id, batch_size, progress, writers, staging,
        retry_delays,
    )
    files = _collections_first(stac_files(path))
    try:
        await _load_files(target, files, processes)
        await staging.finish_all(writers)
    except BaseException:
        await staging.abandon()
        raise
    await analyze_new_partitions(sessions)
    return report


async def _load_files(target: _LoadTarget, files: list[Path], processes: int | None) -> None:
    size = processes if processes is not None else min(os.cpu_count() or 1, MAX_PROCESSES)
    with _bulk_gc():
        if not any(_uses_processes(file, processes) for file in files):
            for file in files:
                await _load_file(target, file)
        else:
            with _process_pool(size) as pool:
                for file in files:
                    if _uses_processes(file, processes):
                        await _load_ndjson_in_processes(target, file, pool, size)
                    else:
                        await _load_file(target, file)


def _collections_first(files: list[Path]) -> list[Path]:
    """Files that look like collections first, so their items find them in a folder."""
    def rank(path: Path) -> int:
        name = path.name.lower()
        return 0 if "collection" in name or name == "catalog.json" else 1

    return sorted(files, key=rank)
