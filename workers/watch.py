"""Watching a storage prefix: one extraction job per new or changed raster.

The watcher polls the asset store's listing (a local folder or an object store alike:
``AssetStore.list_info`` gives each object's size and modification time). A raster is
queued once its signature (size and modification time, and those of the metadata
record beside it when the collection's processor reads one) has stayed the same over
two polls, so a file still being copied in is not read half-written. Signatures
already queued are kept in Redis, per queue, collection and prefix: a restarted
watcher, or a second one on the same prefix, does not queue a file again until it
changes. A file missing from a listing is forgotten, so one deleted and put back (even
with the same size and modification time) is queued again. The item upsert is
idempotent as well, so a duplicate job changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.errors import CatalogError
from catalog.jobs import JobRecord
from catalog.search.lookup import get_collection
from catalog.storage import AssetStore, ObjectInfo, check_key
from catalog.temporal import parse_rfc3339
from workers.folders import SIDECAR_SUFFIXES, is_raster_name
from workers.providers.processors import ProcessorRegistry, default_registry
from workers.queue import ExtractRequest, enqueue_extract

log = logging.getLogger(__name__)

# Set the field to the new signature unless it holds it already; 1 when it was set.
_CLAIM = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class WatchPlan:
    """What to watch: the collection the rasters go to, the storage prefix (default:
    the collection id), seconds between polls, and a datetime for rasters with none."""

    collection_id: str
    prefix: str | None = None
    interval: float = 2.0
    datetime: str | None = None
    registry: ProcessorRegistry = field(default_factory=default_registry)

    @property
    def folder(self) -> str:
        """The normalized storage prefix watched."""
        return check_key(self.prefix) if self.prefix else check_key(self.collection_id)


def _signature(info: ObjectInfo) -> str:
    return f"{info.size}:{info.modified:.6f}"


def _sidecar(info: ObjectInfo, listing: dict[str, ObjectInfo]) -> ObjectInfo | None:
    stem = PurePosixPath(info.key).with_suffix("")
    for suffix in SIDECAR_SUFFIXES:
        for candidate in (f"{stem}{suffix}", f"{stem}{suffix.upper()}"):
            if candidate in listing:
                return listing[candidate]
    return None


@dataclass(frozen=True)
class _Candidate:
    key: str
    signature: str
    metadata_key: str | None


class RasterWatcher:
    """Polls one storage prefix and queues extraction jobs (see the module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        queue: Queue,
        store: AssetStore,
        plan: WatchPlan,
        on_job: Callable[[str, JobRecord], None] | None = None,
    ) -> None:
        self.sessions, self.queue, self.store, self.plan = sessions, queue, store, plan
        self.on_job = on_job
        self.reads_metadata = plan.registry.for_collection(plan.collection_id).reads_metadata
        self.state_key = f"stacql:watch:{queue.name}:{plan.collection_id}:{plan.folder}"
        self._claim = queue.connection.register_script(_CLAIM)
        self._previous: dict[str, str] = {}

    async def check(self) -> None:
        """Refuse a plan that cannot work before watching: ``UnknownCollection`` or
        ``InvalidDatetime``."""
        if self.plan.datetime is not None:
            parse_rfc3339(self.plan.datetime, field="datetime")
        async with self.sessions() as session:
            await get_collection(session, self.plan.collection_id)

    def _candidates(self, infos: list[ObjectInfo]) -> list[_Candidate]:
        listing = {info.key: info for info in infos}
        found = []
        for info in infos:
            if not is_raster_name(PurePosixPath(info.key).name):
                continue
            signature = _signature(info)
            sidecar = _sidecar(info, listing) if self.reads_metadata else None
            if sidecar is not None:
                signature += f"|{sidecar.key}:{_signature(sidecar)}"
            found.append(_Candidate(info.key, signature, sidecar.key if sidecar else None))
        return found

    async def poll_once(self) -> list[JobRecord]:
        """List the prefix once and queue the rasters that are new or changed and have
        settled (same signature as at the previous poll); returns their jobs."""
        candidates = self._candidates(await self.store.list_info(self.plan.folder))
        await self._forget_all_but({c.key for c in candidates})
        settled = [c for c in candidates if self._previous.get(c.key) == c.signature]
        self._previous = {c.key: c.signature for c in candidates}
        jobs = []
        for candidate in settled:
            claimed = await asyncio.to_thread(
                self._claim, keys=[self.state_key], args=[candidate.key, candidate.signature]
            )
            if not claimed:
                continue
            try:
                job = await self._enqueue(candidate)
            except BaseException:
                # Not queued: forget the claim so the next poll tries again.
                await asyncio.to_thread(self.queue.connection.hdel, self.state_key, candidate.key)
                raise
            jobs.append(job)
            if self.on_job is not None:
                self.on_job(candidate.key, job)
        return jobs

    async def _forget_all_but(self, present: set[str]) -> None:
        """Drop the claims of rasters no longer listed (deleted or moved away)."""
        redis = self.queue.connection
        claimed = await asyncio.to_thread(redis.hkeys, self.state_key)
        names = (key.decode() if isinstance(key, bytes) else key for key in claimed)
        gone = [key for key in names if key not in present]
        if gone:
            await asyncio.to_thread(redis.hdel, self.state_key, *gone)

    async def _enqueue(self, candidate: _Candidate) -> JobRecord:
        request = ExtractRequest(
            self.plan.collection_id, candidate.key, datetime=self.plan.datetime,
            metadata_key=candidate.metadata_key,
        )
        return await enqueue_extract(self.sessions, self.queue, request)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every ``plan.interval`` seconds until ``stop`` is set. A transient error
        (storage, database or Redis unreachable) is logged and the next poll retries."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except (CatalogError, RedisError, OSError) as exc:
                log.warning("watch %s: %s; trying again at the next poll", self.plan.folder, exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.plan.interval)
            except TimeoutError:
                continue
