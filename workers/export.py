"""Export jobs: a search's items written to a file in the asset store.

``enqueue_export`` is what the APIs call (through the composition root); the RQ job
``export_items`` runs ``catalog.export.run_export``, writes its progress to the job row
at most once a second, and finishes with the file's key, format, size and item count,
and the file's expiry (``WorkerConfig.export_retention``). Each export job first
removes the files of earlier exports past their expiry
(``catalog.export.purge_expired_exports``), and every worker's companion process
(``workers.companions``) queues a sweep of them (``sweep_expired_exports``) on a timer,
so the store holds no more than the exports of one retention period.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from rq import Queue
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.assets import AssetUrls
from catalog.db import create_engine, create_sessionmaker
from catalog.errors import CatalogError
from catalog.export import ExportSpec, finish_export, purge_expired_exports, run_export
from catalog.export.formats import EXPORT_JOB_KIND
from catalog.export.run import export_key
from catalog.jobs import JobRecord, mark_started, set_progress
from catalog.storage import AssetStore, create_asset_store
from workers.context import WorkerConfig, current_config
from workers.jobs import PROGRESS_INTERVAL, record_step, run_recorded
from workers.queue import JobPolicy, submit_job

EXPORT_KIND = EXPORT_JOB_KIND
EXPORT_FUNCTION = "workers.export.export_items"
EXPORT_POLICY = JobPolicy(timeout=6 * 3600)
"""An export of millions of items takes a while; results are kept as for other jobs."""

Sessions = async_sessionmaker[AsyncSession]
log = logging.getLogger(__name__)


async def enqueue_export(
    sessions: Sessions, queue: Queue, spec: ExportSpec, policy: JobPolicy | None = None
) -> JobRecord:
    """Queue the export ``spec`` (validated by ``ExportSpec.of``); returns its ``queued``
    job at once, or raises ``QueueUnavailable`` when Redis cannot take it."""
    return await submit_job(
        sessions, queue, EXPORT_KIND, EXPORT_FUNCTION, spec.params(), policy or EXPORT_POLICY
    )


class _Progress:
    """The export's latest progress, written to the job row by a task beside it (the
    export reports from a conversion thread too)."""

    def __init__(self) -> None:
        self.state: tuple[float, str] = (0.0, "counting the items")

    def __call__(self, fraction: float, message: str) -> None:
        self.state = (min(max(fraction, 0.0), 0.99), message)

    async def write_until_cancelled(self, sessions: Sessions, job_id: str) -> None:
        last = None
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            if (current := self.state) != last:
                await record_step(sessions, set_progress, job_id, *current)
                last = current


async def _purge(sessions: Sessions, store: AssetStore) -> int:
    """Remove expired export files; returns how many. A failure is logged, not the
    caller's failure."""
    try:
        if removed := await purge_expired_exports(sessions, store):
            log.info("removed %d expired export files", removed)
        return removed
    except CatalogError as exc:
        log.warning("expired exports were not removed: %s", exc)
        return 0


def sweep_expired_exports() -> str:
    """RQ job: remove the files of every export past its expiry and mark their jobs."""
    config = current_config()
    return f"removed {asyncio.run(_sweep(config))} expired export files"


async def _sweep(config: WorkerConfig) -> int:
    engine = create_engine(config.database_url, pool_size=1)
    try:
        store = create_asset_store(config.storage_url, config.storage_options)
        return await _purge(create_sessionmaker(engine), store)
    finally:
        await engine.dispose()


async def _export(config: WorkerConfig, job_id: str, spec: ExportSpec) -> dict[str, Any]:
    engine = create_engine(config.database_url, pool_size=config.database_pool_size)
    try:
        sessions = create_sessionmaker(engine)
        store = create_asset_store(config.storage_url, config.storage_options)
        await _purge(sessions, store)
        await record_step(sessions, mark_started, job_id, "counting the items")
        progress = _Progress()
        writer = asyncio.create_task(progress.write_until_cancelled(sessions, job_id))
        urls = AssetUrls(store, spec.base_url) if spec.base_url else None
        try:
            exported = await run_export(
                sessions, store, export_key(job_id, spec), spec, urls=urls, progress=progress
            )
        finally:
            writer.cancel()
            with suppress(asyncio.CancelledError):
                await writer
        result = exported.as_json()
        await record_step(
            sessions, finish_export, job_id, result, f"{exported.items} items exported",
            config.export_retention,
        )
        return result
    finally:
        await engine.dispose()


def export_items(job_id: str, **params: Any) -> Any:
    """RQ job: export the items of the search in ``params`` (an ``ExportSpec``) to the
    asset store. A bad search fails the job; a database or store outage retries it
    (the file is stored only once complete, so a retry starts again cleanly)."""
    spec = ExportSpec.from_params(params)
    return run_recorded(job_id, lambda config: _export(config, job_id, spec))
