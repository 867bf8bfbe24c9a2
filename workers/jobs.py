"""RQ job functions: thin wrappers that run one catalog operation and record it.

Each job takes its ``jobs`` row id and JSON arguments, opens its own engine and asset
store from the worker's configuration, and records its course in the ``jobs`` table:
``started``, progress steps, then ``finished`` with a result or ``failed`` with the
reason. The item is written in the same transaction that marks the job finished, so a
job that dies midway leaves no item behind. A transient error (database or storage
unreachable) puts the job back in the queue through an RQ ``Retry`` until the worker's
retry policy is spent; any other error fails it at once.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import Any

from rq import Retry, get_current_job
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.db.errors import translate_db_errors
from catalog.errors import (
    CatalogError,
    DatabaseUnavailable,
    ItemNotFound,
    NotFound,
    StorageError,
)
from catalog.ingest import LoadReport, load_path, upsert_items
from catalog.ingest.sources import stac_files
from catalog.jobs import mark_failed, mark_finished, mark_requeued, mark_started, set_progress
from catalog.search.lookup import get_item
from catalog.stac import normalize_items
from catalog.storage import AssetStore, create_asset_store
from catalog.temporal import parse_rfc3339
from workers.checksum_cache import ChecksumCache
from workers.cog import cog_key, converted, is_cloud_optimized, with_cog
from workers.completion import merge_extracted
from workers.context import WorkerConfig, current_config
from workers.extract.files import KnownChecksum
from workers.extract.item import extract, local_path
from workers.extract.thumbnail import THUMBNAIL_MEDIA_TYPE
from workers.queue import CompleteItemRequest, ExtractRequest, IngestCatalogRequest

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0
"""Seconds between two progress writes of a bulk load."""
MAX_REPORTED_ERRORS = 100
"""Refused documents listed in a bulk load's result (the count is always exact)."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    StorageError,
    ConnectionError,
    TimeoutError,
)
"""Errors worth a retry: the same job may succeed once the service is back."""

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
"""PostgreSQL aborts one of two conflicting transactions (serialization failure,
deadlock) and expects it to be run again."""


def is_transient(exc: BaseException) -> bool:
    """Whether running the job again may succeed: a service unreachable, or a
    transaction PostgreSQL aborted because of a concurrent one."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    return isinstance(exc, DBAPIError) and (
        getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
    )

Sessions = async_sessionmaker[AsyncSession]


def thumbnail_key(key: str) -> str:
    """Where the thumbnail of the raster at ``key`` is stored: beside it."""
    path = PurePosixPath(key)
    return str(path.with_name(f"{path.name.split('.')[0]}.thumbnail.png"))


@asynccontextmanager
async def local_copy(store: AssetStore, key: str) -> AsyncIterator[Path]:
    """A local path to the object at ``key``: the file itself in a local store, else a
    temporary copy (streamed, keeping the object's name) removed afterwards."""
    if not await store.exists(key):
        raise NotFound(f"no file stored at key {key!r}")
    href = store.href(key)
    if href.startswith("file://"):
        yield local_path(href)
        return
    with tempfile.TemporaryDirectory(prefix="stacql-") as folder:
        path = Path(folder) / PurePosixPath(key).name
        with path.open("wb") as file:
            async for chunk in store.open_stream(key):
                file.write(chunk)
        yield path


async def record_step(sessions: Sessions, step: Callable[..., Awaitable[Any]], *args: Any) -> None:
    """Run one ``catalog.jobs`` update in its own committed transaction."""
    async with sessions() as session, session.begin():
        await step(session, *args)


def _extra_assets(store: AssetStore, request: ExtractRequest, thumb: str | None) -> dict:
    assets: dict[str, Any] = {}
    if thumb is not None:
        assets["thumbnail"] = {
            "href": store.href(thumb), "type": THUMBNAIL_MEDIA_TYPE,
            "roles": ["thumbnail"], "title": "Thumbnail",
        }
    if request.metadata_key is not None:
        is_xml = request.metadata_key.lower().endswith(".xml")
        assets["metadata"] = {
            "href": store.href(request.metadata_key),
            "type": "application/xml" if is_xml else "text/plain",
            "roles": ["metadata"], "title": "Provider metadata",
        }
    return assets


async def _build(
    config: WorkerConfig, sessions: Sessions, store: AssetStore, job_id: str,
    request: ExtractRequest, cloud_optimize: bool = False,
) -> dict[str, Any]:
    """Extract the item and store its thumbnail (and, with ``cloud_optimize``, a COG of
    a raster that is not one); returns the item dict."""
    processor = config.registry.for_collection(request.collection_id)
    metadata = await store.get(request.metadata_key) if request.metadata_key else None
    provided = processor.describe(PurePosixPath(request.key).name, metadata)
    when = parse_rfc3339(request.datetime) if request.datetime else None
    href = store.href(request.key)
    async with local_copy(store, request.key) as path:
        await record_step(sessions, set_progress, job_id, 0.1, "reading the raster")
        known = _known_checksum(request)
        # A stored file's checksum as a job hashed it before, while it is unchanged (a
        # temporary copy of a remote object is a new file each time: not looked up).
        cache = _checksum_cache(config) if known is None and href.startswith("file://") else None
        if cache is not None:
            state, known = cache.get(path, config.extract.checksum)
        # Run inline: the worker runs one job at a time, and a job timeout must be able
        # to interrupt the extraction itself.
        extracted = extract(
            path, request.collection_id, item_id=request.item_id, datetime=when,
            provider_metadata=provided, asset_href=href, thumbnail=True,
            options=config.extract, known_checksum=known,
        )
        item = _named_as_asked(extracted.item, href, request)
        if cache is not None and known is None:
            hashed = next(a for a in extracted.item["assets"].values() if a.get("href") == href)
            cache.put(path, config.extract.checksum, state, hashed["file:checksum"])
        if cloud_optimize and not is_cloud_optimized(path):
            await record_step(sessions, set_progress, job_id, 0.6, "writing a cloud-optimized copy")
            item = await _store_cog(store, request, item, path, config.extract.checksum)
    await record_step(sessions, set_progress, job_id, 0.8, "storing the thumbnail")
    thumb = None
    if extracted.thumbnail is not None:
        thumb = (await store.put(thumbnail_key(request.key), extracted.thumbnail)).key
    item["assets"].update(_extra_assets(store, request, thumb))
    return item


def _checksum_cache(config: WorkerConfig) -> ChecksumCache | None:
    """The cache of checksums on the running RQ job's Redis, unless turned off."""
    rq_job = get_current_job()
    if not config.checksum_cache_ttl or rq_job is None:
        return None
    return ChecksumCache(rq_job.connection, config.checksum_cache_ttl)


def _known_checksum(request: ExtractRequest) -> KnownChecksum | None:
    if request.file_size is None or request.file_checksum is None:
        return None
    return KnownChecksum(request.file_size, request.file_checksum)


def _named_as_asked(
    item: dict[str, Any], href: str, request: ExtractRequest
) -> dict[str, Any]:
    """``item`` whose raster asset (the one at ``href``) has the key and roles the
    request asks for, when it asks."""
    if request.asset_key is None and request.roles is None:
        return item
    assets = dict(item["assets"])
    key = next(k for k, asset in assets.items() if asset.get("href") == href)
    asset = dict(assets.pop(key))
    if request.roles is not None:
        asset["roles"] = list(request.roles)
    assets[request.asset_key or key] = asset
    return {**item, "assets": assets}


async def _store_cog(
    store: AssetStore, request: ExtractRequest, item: dict[str, Any], path: Path,
    checksum: str,
) -> dict[str, Any]:
    """Store a COG of the upload beside it and point the item's data asset to it."""
    href = store.href(request.key)
    key = next(k for k, asset in item["assets"].items() if asset.get("href") == href)
    with converted(path) as cog_path, cog_path.open("rb") as file:
        stored = await store.put(cog_key(request.key), file)
        return with_cog(item, key, stored.href, cog_path, checksum)


Writer = Callable[[AsyncSession, AssetStore, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _extract_then_write(
    config: WorkerConfig, job_id: str, request: ExtractRequest, write: Writer,
    cloud_optimize: bool = False,
) -> dict[str, Any]:
    """Extract the raster, then ``write`` the item and mark the job finished with its
    result in one transaction (so a job that dies leaves no item). Uploads are
    ``cloud_optimize``d; an item written through the APIs keeps the hrefs it was given."""
    engine = create_engine(config.database_url, pool_size=config.database_pool_size)
    try:
        sessions = create_sessionmaker(engine)
        store = create_asset_store(config.storage_url, config.storage_options)
        await record_step(sessions, mark_started, job_id, "extracting the raster's metadata")
        item = await _build(config, sessions, store, job_id, request, cloud_optimize)
        async with sessions() as session, session.begin():
            await lock_item_key(session, item["collection"], item["id"])
            result = await write(session, store, item)
            await mark_finished(session, job_id, result, "item stored")
        return result
    finally:
        await engine.dispose()


async def _store_item(session: AsyncSession, store: AssetStore, item: dict) -> dict[str, Any]:
    summary = await upsert_items(session, normalize_items([item]))
    return {
        "collection_id": item["collection"], "item_id": item["id"],
        "inserted": summary.inserted, "updated": summary.updated,
        "unchanged": summary.unchanged,
    }


def _upload_writer(request: ExtractRequest) -> Writer:
    """Writes an upload's item, or, into an item that exists, only the upload's asset
    (added or replaced) and the extra assets it brings whose keys are free: the rest of
    the stored item (its other assets, properties, geometry) stays as it was, unless the
    request says to replace the whole item. The result's ``action`` says which."""

    async def write(session: AsyncSession, store: AssetStore, extracted: dict) -> dict[str, Any]:
        if request.replace_item:
            result = await _store_item(session, store, extracted)
            return {**result, "action": "inserted" if result["inserted"] else "replaced"}
        collection_id, item_id = extracted["collection"], extracted["id"]
        await lock_item(session, collection_id, item_id)
        try:
            stored = await get_item(session, collection_id, item_id)
        except ItemNotFound:
            return {**await _store_item(session, store, extracted), "action": "inserted"}
        hrefs = {store.href(request.key), store.href(cog_key(request.key))}
        key = next(k for k, a in extracted["assets"].items() if a.get("href") in hrefs)
        merged = with_upload(stored, extracted, key)
        action = "asset_replaced" if key in stored.get("assets", {}) else "asset_added"
        return {**await _store_item(session, store, merged), "action": action, "asset_key": key}

    return write


def with_upload(stored: dict[str, Any], extracted: dict[str, Any], key: str) -> dict[str, Any]:
    """``stored`` with the asset ``key`` of ``extracted`` (added or replaced), the other
    assets of ``extracted`` whose keys are free, and the extensions they need."""
    assets = dict(stored.get("assets") or {})
    assets[key] = extracted["assets"][key]
    for name, asset in extracted["assets"].items():
        assets.setdefault(name, asset)
    extensions = list(stored.get("stac_extensions") or [])
    extensions += [e for e in extracted.get("stac_extensions") or [] if e not in extensions]
    return {**stored, "assets": assets, "stac_extensions": extensions}


async def lock_item_key(session: AsyncSession, collection_id: str, item_id: str) -> None:
    """Take a transaction-scoped advisory lock on the item's key, so jobs writing the
    same item (the same file twice, on two workers) write one after the other instead
    of deadlocking on its item and asset rows."""
    statement = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
    with translate_db_errors():
        await session.execute(statement, {"key": f"stacql-item:{collection_id}/{item_id}"})


async def lock_item(session: AsyncSession, collection_id: str, item_id: str) -> None:
    """Lock the item's row until the transaction ends (nothing when it is missing)."""
    statement = text("SELECT 1 FROM items WHERE collection_id = :c AND id = :i FOR UPDATE")
    with translate_db_errors():
        await session.execute(statement, {"c": collection_id, "i": item_id})


def _completer(request: CompleteItemRequest) -> Writer:
    async def write(session: AsyncSession, store: AssetStore, extracted: dict) -> dict[str, Any]:
        # Merged under a row lock: a write to the item since it was queued is kept.
        await lock_item(session, request.collection_id, request.item_id)
        stored = await get_item(session, request.collection_id, request.item_id)
        item = merge_extracted(stored, extracted, request.asset_key, store.href(request.key))
        return {**await _store_item(session, store, item), "asset_key": request.asset_key}

    return write


async def _fail(config: WorkerConfig, job_id: str, error: str, retry: bool) -> None:
    engine = create_engine(config.database_url, pool_size=1)
    try:
        sessions = create_sessionmaker(engine)
        await record_step(sessions, mark_requeued if retry else mark_failed, job_id, error)
    finally:
        await engine.dispose()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CatalogError):
        return f"{exc.code}: {exc.message}"
    return f"internal error ({type(exc).__name__}): {exc}"


FINAL_FAILURE = "stacql_final_failure"
"""RQ job meta flag: the job failed for good and its row says why; RQ must not run it
again (see ``workers.runner``)."""


def _declare_final() -> None:
    rq_job = get_current_job()
    if rq_job is not None:
        rq_job.meta[FINAL_FAILURE] = True
        rq_job.save_meta()


def _record_failure(config: WorkerConfig, job_id: str, error: str, retry: bool) -> bool:
    """Record the failure in the row; False when the database cannot be reached."""
    try:
        asyncio.run(_fail(config, job_id, error, retry))
    except TRANSIENT_ERRORS as exc:
        log.warning("job %s: could not record its failure (%s): %s", job_id, exc, error)
        return False
    return True


def _retry_or_fail(config: WorkerConfig, job_id: str, exc: BaseException) -> Retry | None:
    """A ``Retry`` while the policy allows one (after recording why), else None."""
    rq_job = get_current_job()
    done = (rq_job.number_of_retries or 0) if rq_job is not None else 0
    if rq_job is None or done >= config.retry.max_retries:
        return None
    log.warning("job %s: transient error, retrying: %s", job_id, exc)
    _record_failure(config, job_id, _describe(exc), retry=True)
    return Retry(max=config.retry.max_retries, interval=config.retry.interval(done))


def run_recorded(job_id: str, work: Callable[[WorkerConfig], Awaitable[dict[str, Any]]]) -> Any:
    """Run ``work`` and record a failure in the ``jobs`` row: transient errors are
    retried (an RQ ``Retry`` is returned) while the retry policy allows, anything else
    fails the job and is raised again so RQ records it too.

    Recording needs the database: while it cannot be reached, the row keeps its last
    state and a failure that could not be recorded is retried like a transient error.
    """
    config = current_config()
    try:
        return asyncio.run(work(config))
    except Exception as exc:
        if is_transient(exc):
            if (retry := _retry_or_fail(config, job_id, exc)) is not None:
                return retry
            _record_failure(config, job_id, _describe(exc), retry=False)
        elif not _record_failure(config, job_id, _describe(exc), retry=False) and (
            retry := _retry_or_fail(config, job_id, exc)
        ) is not None:
            return retry
        _declare_final()
        raise


def extract_item(
    job_id: str,
    collection_id: str,
    key: str,
    item_id: str | None = None,
    datetime: str | None = None,
    metadata_key: str | None = None,
    asset_key: str | None = None,
    roles: list[str] | None = None,
    uploaded: bool = False,
    replace_item: bool = False,
    file_size: int | None = None,
    file_checksum: str | None = None,
) -> Any:
    """RQ job: build the item of the raster stored at ``key`` and upsert it (and, for
    an upload, remove its files when it fails for good).

    Returns the job's result (also stored in the ``jobs`` row): the collection and
    item ids and whether the item was inserted, updated or unchanged.
    """
    request = ExtractRequest(
        collection_id, key, item_id, datetime, metadata_key, asset_key,
        tuple(roles) if roles is not None else None, uploaded, replace_item,
        file_size, file_checksum,
    )
    write = _upload_writer(request) if uploaded else _store_item

    async def work(config: WorkerConfig) -> dict[str, Any]:
        try:
            return await _extract_then_write(
                config, job_id, request, write, config.convert_to_cog
            )
        except Exception as exc:
            if request.uploaded and not is_transient(exc):
                await _remove_upload(config, request)
            raise

    return run_recorded(job_id, work)


async def _remove_upload(config: WorkerConfig, request: ExtractRequest) -> None:
    """Remove the files of an upload whose job failed for good (raster, sidecar and any
    thumbnail or COG already stored); a file that cannot be removed is logged, not
    raised."""
    store = create_asset_store(config.storage_url, config.storage_options)
    keys = [request.key, thumbnail_key(request.key), cog_key(request.key), request.metadata_key]
    for key in filter(None, keys):
        try:
            await store.delete(key)
        except NotFound:
            continue
        except CatalogError as exc:
            log.warning("cannot remove %s of a refused upload: %s", key, exc)


class _LoadProgress:
    """Files done out of files found, written to the job row at most once a
    :data:`PROGRESS_INTERVAL` by a task beside the load (the loader's callback is sync)."""

    def __init__(self, total_files: int) -> None:
        self.total = max(total_files, 1)
        self.files: list[str] = []
        self.documents = 0

    def __call__(self, source: str, count: int) -> None:
        self.documents += count
        if not self.files or self.files[-1] != source:
            self.files.append(source)

    def state(self) -> tuple[float, str]:
        # A file counts as done once the next one starts; the last one at the end.
        done = max(len(self.files) - 1, 0)
        return (
            min(done / self.total, 0.99),
            f"{done} of {self.total} files, {self.documents} documents written",
        )

    async def write_until_cancelled(self, sessions: Sessions, job_id: str) -> None:
        last: tuple[float, str] | None = None
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            if (current := self.state()) != last:
                await record_step(sessions, set_progress, job_id, *current)
                last = current


def _load_result(report: LoadReport) -> dict[str, Any]:
    return {
        "collections": dict(report.collections),
        "inserted": report.items.inserted,
        "updated": report.items.updated,
        "unchanged": report.items.unchanged,
        "refused": len(report.errors),
        "errors": report.errors[:MAX_REPORTED_ERRORS],
    }


async def _ingest_catalog(
    config: WorkerConfig, job_id: str, request: IngestCatalogRequest
) -> dict[str, Any]:
    engine = create_engine(config.database_url, pool_size=config.database_pool_size)
    try:
        sessions = create_sessionmaker(engine)
        await record_step(sessions, mark_started, job_id, "listing the catalog's files")
        path = Path(request.href)
        progress = _LoadProgress(len(await asyncio.to_thread(stac_files, path)))
        writer = asyncio.create_task(progress.write_until_cancelled(sessions, job_id))
        try:
            report = await load_path(
                sessions, path, collection_id=request.collection_id, progress=progress
            )
        finally:
            writer.cancel()
            with suppress(asyncio.CancelledError):
                await writer
        result = _load_result(report)
        message = "loaded" if report.ok else f"loaded; {len(report.errors)} refused"
        await record_step(sessions, mark_finished, job_id, result, message)
        return result
    finally:
        await engine.dispose()


def ingest_catalog(job_id: str, href: str, collection_id: str | None = None) -> Any:
    """RQ job: bulk-load the STAC documents at ``href`` through ``catalog.ingest``.

    Loading is idempotent, so a retry after a transient error loads again what was
    already written without changing it. Documents the catalog refuses do not fail the
    job: they are counted and listed (the first 100) in its result, as ``stacql ingest``
    reports them. A missing or unreadable ``href`` fails it.
    """
    request = IngestCatalogRequest(href, collection_id)
    return run_recorded(job_id, lambda config: _ingest_catalog(config, job_id, request))


def complete_item(
    job_id: str,
    collection_id: str,
    item_id: str,
    asset_key: str,
    key: str,
    datetime: str | None = None,
    metadata_key: str | None = None,
) -> Any:
    """RQ job: complete the stored item ``item_id`` with the metadata of the raster at
    ``key`` (its asset ``asset_key``), stored values winning (``workers.completion``).

    Fails with ``ITEM_NOT_FOUND`` when the item was deleted since it was queued.
    """
    request = CompleteItemRequest(
        collection_id, item_id, asset_key, key, datetime, metadata_key
    )

    async def complete(config: WorkerConfig) -> dict[str, Any]:
        checked = request.checked()  # again here: a job queued by an older version
        return await _extract_then_write(
            config, job_id, checked.extraction(), _completer(checked)
        )

    return run_recorded(job_id, complete)
