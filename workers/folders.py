"""A folder of rasters → one extraction job per raster (``stacql ingest --rasters``).

Workers read rasters from the asset store, so each raster must be there: a raster that
already lies inside a local store keeps its key; any other is copied in (atomically)
under ``<key prefix>/<path relative to the folder>``. A provider metadata record stored
beside a tile with the same stem (``m_3008501_ne_16_1_20110815.xml`` or ``.txt``) goes
with it when the collection's processor reads one (NAIP); GDAL's own ``.aux.xml``
side files never match, as their stem keeps the raster's suffix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rq import Queue
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.errors import CatalogError, InvalidInput
from catalog.jobs import JobRecord
from catalog.search.lookup import get_collection
from catalog.storage import AssetStore, LocalAssetStore, check_key
from catalog.temporal import parse_rfc3339
from workers.cog import COG_SUFFIX
from workers.errors import QueueUnavailable
from workers.providers.processors import ProcessorRegistry, default_registry
from workers.queue import ExtractRequest, JobPolicy, enqueue_extract

RASTER_SUFFIXES = frozenset({".tif", ".tiff", ".jp2", ".img", ".ntf"})
"""File suffixes taken for rasters (formats of ``SAFE_DRIVERS`` that hold imagery;
``.png`` and ``.jpg`` are left out as they are mostly thumbnails and previews)."""

SIDECAR_SUFFIXES = (".xml", ".txt")
"""Suffixes of a provider metadata record beside its raster, in order of preference."""


@dataclass(frozen=True)
class RasterFile:
    """A raster found under a folder: its path, its POSIX path relative to the folder,
    and the metadata record beside it (None when there is none)."""

    path: Path
    relative: str
    sidecar: Path | None = None


@dataclass
class FolderReport:
    """What ``enqueue_raster_folder`` queued, and the files it refused (path: reason)."""

    jobs: list[JobRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def is_raster_name(name: str) -> bool:
    """Whether a file named ``name`` is taken for a raster (hidden files are not, nor
    the COGs stacql writes beside uploads)."""
    if name.startswith(".") or name.lower().endswith(COG_SUFFIX):
        return False
    return Path(name).suffix.lower() in RASTER_SUFFIXES


def sidecar_of(path: Path) -> Path | None:
    """The metadata record with the raster's stem beside ``path``, if there is one."""
    for suffix in SIDECAR_SUFFIXES:
        for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if is_raster_name(name):
                yield Path(root) / name


def find_rasters(path: Path, *, with_sidecars: bool = True) -> list[RasterFile]:
    """The rasters under the folder ``path`` (or ``path`` itself), in path order.

    Raises ``InvalidInput`` when ``path`` does not exist or is not a raster.
    """
    path = path.resolve()
    if path.is_file():
        if not is_raster_name(path.name):
            raise InvalidInput(f"{path}: not a raster file ({', '.join(sorted(RASTER_SUFFIXES))})")
        files, base = [path], path.parent
    elif path.is_dir():
        files, base = list(_walk(path)), path
    else:
        raise InvalidInput(f"{path}: no such file or folder")
    return [
        RasterFile(f, f.relative_to(base).as_posix(), sidecar_of(f) if with_sidecars else None)
        for f in files
    ]


def _key_in_store(store: AssetStore, path: Path) -> str | None:
    """The key of ``path`` when it already lies in a local store, else None."""
    if isinstance(store, LocalAssetStore) and path.is_relative_to(store.root):
        return path.relative_to(store.root).as_posix()
    return None


async def store_file(store: AssetStore, path: Path, key: str) -> str:
    """The key under which ``path`` is in ``store``: where it lies, or ``key`` after an
    atomic copy."""
    if (existing := _key_in_store(store, path)) is not None:
        return check_key(existing)
    with path.open("rb") as file:
        return (await store.put(key, file)).key


@dataclass(frozen=True)
class FolderIngest:
    """Where and how the rasters of a folder go: the collection, the key prefix of
    copied files (default: the collection id), a datetime for rasters that carry none,
    and the processors (to know whether a sidecar record is sent)."""

    collection_id: str
    key_prefix: str | None = None
    datetime: str | None = None
    registry: ProcessorRegistry = field(default_factory=default_registry)
    policy: JobPolicy | None = None


async def _enqueue_one(
    sessions: async_sessionmaker[AsyncSession], queue: Queue, store: AssetStore,
    raster: RasterFile, plan: FolderIngest,
) -> JobRecord:
    prefix = plan.key_prefix or plan.collection_id
    key = await store_file(store, raster.path, f"{prefix}/{raster.relative}")
    metadata_key = None
    if raster.sidecar is not None:
        sidecar_key = f"{prefix}/{Path(raster.relative).with_name(raster.sidecar.name)}"
        metadata_key = await store_file(store, raster.sidecar, sidecar_key)
    request = ExtractRequest(plan.collection_id, key, datetime=plan.datetime,
                             metadata_key=metadata_key)
    return await enqueue_extract(sessions, queue, request, plan.policy)


async def enqueue_raster_folder(
    sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    store: AssetStore,
    path: Path,
    plan: FolderIngest,
    on_job: Callable[[RasterFile, JobRecord | None], None] | None = None,
) -> FolderReport:
    """Queue one extraction job per raster under ``path`` into ``plan.collection_id``.

    The collection must exist (``UnknownCollection`` otherwise, before anything is
    copied or queued), and a bad ``plan.datetime`` raises ``InvalidDatetime``. A raster
    that cannot be stored or queued is reported in the
    result and the others still go; ``QueueUnavailable`` stops the run. ``on_job`` is
    called after each raster (with None when it was refused).
    """
    if plan.datetime is not None:
        parse_rfc3339(plan.datetime, field="datetime")
    async with sessions() as session:
        await get_collection(session, plan.collection_id)
    reads_metadata = plan.registry.for_collection(plan.collection_id).reads_metadata
    report = FolderReport()
    for raster in find_rasters(path, with_sidecars=reads_metadata):
        job = None
        try:
            job = await _enqueue_one(sessions, queue, store, raster, plan)
            report.jobs.append(job)
        except QueueUnavailable:
            raise
        except CatalogError as exc:
            report.errors.append(f"{raster.path}: {exc}")
        if on_job is not None:
            on_job(raster, job)
    return report
