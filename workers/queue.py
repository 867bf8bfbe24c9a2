"""Enqueueing: what the APIs call to turn a request into a ``jobs`` row and an RQ job.

The row is committed first and the RQ job gets its id (``job_id = jobs.id``, with
``unique=True`` so the same job cannot be queued twice), so a worker never runs a job
its row does not describe. Jobs travel as JSON (RQ's default, pickle, would let whoever
writes to Redis run code in the workers) with explicit timeouts and time-to-lives.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.serializers import JSONSerializer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.checksums import is_multihash
from catalog.errors import InvalidInput, InvalidStorageKey
from catalog.jobs import JobRecord, create_job, mark_failed
from catalog.stac.common import check_id
from catalog.storage import check_key
from catalog.temporal import parse_rfc3339
from workers.errors import QueueUnavailable

DEFAULT_QUEUE = "stacql"
EXTRACT_KIND = "extract_item"
EXTRACT_FUNCTION = "workers.jobs.extract_item"
COMPLETE_KIND = "complete_item"
COMPLETE_FUNCTION = "workers.jobs.complete_item"
INGEST_CATALOG_KIND = "ingest_catalog"
INGEST_CATALOG_FUNCTION = "workers.jobs.ingest_catalog"


@dataclass(frozen=True)
class JobPolicy:
    """RQ limits of a job, in seconds: how long it may run, how long RQ keeps its
    result or failure (the ``jobs`` row stays regardless); and how many times a job
    whose worker died under it (killed, out of memory, machine lost) is run again.

    Those are RQ's own retries, which :mod:`workers.runner` keeps for lost jobs only:
    a job that raised has recorded its final failure, and a transient error is retried
    under the worker's ``RetryPolicy`` instead.
    """

    timeout: int = 15 * 60
    result_ttl: int = 24 * 3600
    failure_ttl: int = 7 * 24 * 3600
    lost_retries: int = 2


@dataclass(frozen=True)
class ExtractRequest:
    """Build the item of a raster stored at ``key`` in the asset store.

    ``metadata_key`` names the provider's metadata record stored beside it (a NAIP
    FGDC file); ``datetime`` (RFC 3339) and ``item_id`` override what extraction finds;
    ``asset_key`` and ``roles``, those of the raster's asset in the item (default: the
    collection's processor's, ``data``). ``uploaded``: the job owns its files (an
    upload's raster and sidecar), and removes them when it fails for good, so a refused
    upload leaves nothing in the store. An upload into an item that exists adds or
    replaces its one asset and keeps the rest, unless ``replace_item``.
    ``file_size`` and ``file_checksum``: the stored file's, computed as it was received
    (an upload), used for ``file:checksum`` instead of reading the file again.
    """

    collection_id: str
    key: str
    item_id: str | None = None
    datetime: str | None = None
    metadata_key: str | None = None
    asset_key: str | None = None
    roles: tuple[str, ...] | None = None
    uploaded: bool = False
    replace_item: bool = False
    file_size: int | None = None
    file_checksum: str | None = None

    def checked(self) -> ExtractRequest:
        """The request with its keys normalized; raises ``InvalidInput`` subclasses for
        a bad collection or item id, storage key or datetime."""
        check_id(self.collection_id, "collection")
        if self.item_id is not None:
            check_id(self.item_id, "item")
        if self.datetime is not None:
            parse_rfc3339(self.datetime, field="datetime")
        metadata = check_key(self.metadata_key) if self.metadata_key is not None else None
        if self.asset_key is not None and (
            not isinstance(self.asset_key, str) or not self.asset_key.strip()
        ):
            raise InvalidInput("the asset key must be a non-empty string")
        roles = self.roles
        if roles is not None:
            if not all(isinstance(role, str) and role.strip() for role in roles):
                raise InvalidInput("asset roles must be non-empty strings")
            roles = tuple(roles)
        if (self.file_size is None) != (self.file_checksum is None) or (
            self.file_checksum is not None
            and not (is_multihash(self.file_checksum) and isinstance(self.file_size, int))
        ):
            raise InvalidInput("a file's checksum needs its size, as a multihash")
        return replace(
            self, key=check_key(self.key), metadata_key=metadata, roles=roles
        )

    def params(self) -> dict[str, Any]:
        """The request as the JSON the ``jobs`` row and the RQ job carry."""
        values = {k: v for k, v in asdict(self).items() if v is not None and v is not False}
        if "roles" in values:
            values["roles"] = list(values["roles"])
        return values


def in_collection(key: str, collection_id: str) -> bool:
    """Whether a storage key lies under the collection's folder (``<collection id>/``),
    where uploads to it are stored."""
    return key.startswith(f"{collection_id}/")


@dataclass(frozen=True)
class CompleteItemRequest:
    """Complete the stored item ``item_id`` with the metadata of the raster its asset
    ``asset_key`` points to (stored at ``key``); see :mod:`workers.completion`.

    Its files must lie under the collection's folder: whoever may write an item of
    collection A must not have a job read (and write a thumbnail beside) a file of
    another, maybe private, collection through an href (issue 16)."""

    collection_id: str
    item_id: str
    asset_key: str
    key: str
    datetime: str | None = None
    metadata_key: str | None = None

    def checked(self) -> CompleteItemRequest:
        """The request with its keys normalized; raises ``InvalidInput`` subclasses."""
        extract = ExtractRequest(
            self.collection_id, self.key, self.item_id, self.datetime, self.metadata_key
        ).checked()
        if not isinstance(self.asset_key, str) or not self.asset_key:
            raise InvalidInput("an asset key must be a non-empty string")
        for key in (extract.key, extract.metadata_key):
            if key is not None and not in_collection(key, self.collection_id):
                raise InvalidStorageKey(
                    f"{key!r} is not stored under collection {self.collection_id!r}"
                )
        return CompleteItemRequest(
            self.collection_id, self.item_id, self.asset_key, extract.key, self.datetime,
            extract.metadata_key,
        )

    def params(self) -> dict[str, Any]:
        """The request as the JSON the ``jobs`` row and the RQ job carry."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def extraction(self) -> ExtractRequest:
        """The extraction this completion runs."""
        return ExtractRequest(
            self.collection_id, self.key, self.item_id, self.datetime, self.metadata_key
        )


@dataclass(frozen=True)
class IngestCatalogRequest:
    """Bulk-load the STAC documents at ``href`` (a static catalog's ``catalog.json`` or
    ``collection.json``, an ndjson file of items, a JSON file or a folder of those) with
    ``catalog.ingest.load_path``; ``collection_id`` is given to items that name none.

    ``href`` is an absolute path or a ``file://`` URL, read by the worker on its own file
    system (the loader reads local files; fetch remote catalogs first).
    """

    href: str
    collection_id: str | None = None

    def checked(self) -> IngestCatalogRequest:
        """The request with ``href`` as an absolute POSIX path; raises ``InvalidInput``
        for another scheme, a relative path or a bad collection id."""
        if self.collection_id is not None:
            check_id(self.collection_id, "collection")
        return IngestCatalogRequest(catalog_path(self.href), self.collection_id)

    def params(self) -> dict[str, Any]:
        """The request as the JSON the ``jobs`` row and the RQ job carry."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def catalog_path(href: str) -> str:
    """The absolute local path named by ``href`` (a path or a ``file://`` URL)."""
    if not isinstance(href, str) or not href.strip():
        raise InvalidInput("a catalog href must be a non-empty string")
    parts = urlsplit(href)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise InvalidInput(f"catalog href {href!r}: give file:///absolute/path")
        path = unquote(parts.path)
    elif parts.scheme and len(parts.scheme) > 1:
        raise InvalidInput(
            f"catalog href {href!r}: the {parts.scheme}:// scheme is not read by workers; "
            "give an absolute path or a file:// URL on the workers' file system"
        )
    else:
        path = href
    if not PurePosixPath(path).is_absolute() or "\x00" in path:
        raise InvalidInput(f"catalog href {href!r} is not an absolute path")
    return path


def create_queue(connection: Redis, name: str = DEFAULT_QUEUE) -> Queue:
    """The RQ queue ``name`` on ``connection``, with the JSON serializer."""
    return Queue(name, connection=connection, serializer=JSONSerializer)


def _enqueue(queue: Queue, job: JobRecord, function: str, policy: JobPolicy) -> None:
    queue.enqueue_call(
        function,
        kwargs={"job_id": str(job.id), **job.params},
        job_id=str(job.id),
        unique=True,
        timeout=policy.timeout,
        result_ttl=policy.result_ttl,
        failure_ttl=policy.failure_ttl,
        retry=Retry(max=policy.lost_retries) if policy.lost_retries > 0 else None,
        description=f"{job.kind} {job.id}",
    )


async def submit_job(
    sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    kind: str,
    function: str,
    params: dict[str, Any],
    policy: JobPolicy | None = None,
) -> JobRecord:
    """Commit a ``queued`` jobs row, then enqueue ``function(job_id=..., **params)``.

    When Redis refuses the job the row is marked failed and ``QueueUnavailable`` is
    raised, so no row waits for a job that does not exist.
    """
    async with sessions() as session, session.begin():
        job = await create_job(session, kind, params)
    try:
        await asyncio.to_thread(_enqueue, queue, job, function, policy or JobPolicy())
    except RedisError as exc:
        async with sessions() as session, session.begin():
            await mark_failed(session, job.id, f"the job could not be queued: {exc}")
        raise QueueUnavailable(f"job {job.id} could not be queued: {exc}") from exc
    return job


async def enqueue_extract(
    sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    request: ExtractRequest,
    policy: JobPolicy | None = None,
) -> JobRecord:
    """Queue the extraction of an uploaded raster; returns its ``queued`` job at once.

    Raises ``InvalidInput`` subclasses for a malformed request (nothing is written)
    and ``QueueUnavailable`` when Redis cannot take the job.
    """
    params = request.checked().params()
    return await submit_job(sessions, queue, EXTRACT_KIND, EXTRACT_FUNCTION, params, policy)


async def enqueue_complete_item(
    sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    request: CompleteItemRequest,
    policy: JobPolicy | None = None,
) -> JobRecord:
    """Queue the completion of a stored item by extraction; returns its ``queued`` job.

    Raises ``InvalidInput`` subclasses for a malformed request (nothing is written)
    and ``QueueUnavailable`` when Redis cannot take the job.
    """
    params = request.checked().params()
    return await submit_job(sessions, queue, COMPLETE_KIND, COMPLETE_FUNCTION, params, policy)


INGEST_POLICY = JobPolicy(timeout=6 * 3600)
"""A bulk load may take hours (millions of items); results are kept as for extraction."""


async def enqueue_ingest_catalog(
    sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    href: str,
    collection_id: str | None = None,
    policy: JobPolicy | None = None,
) -> JobRecord:
    """Queue the bulk load of the static catalog or ndjson file at ``href`` (what
    GraphQL's ``ingestCatalog(href)`` calls); returns its ``queued`` job at once.

    The worker records progress (files done out of files found) in the job row and, at
    the end, the load report as the result. Raises ``InvalidInput`` for a bad href or
    collection id (nothing is written) and ``QueueUnavailable`` when Redis cannot take
    the job.
    """
    checked = IngestCatalogRequest(href, collection_id).checked()
    return await submit_job(
        sessions, queue, INGEST_CATALOG_KIND, INGEST_CATALOG_FUNCTION, checked.params(),
        policy or INGEST_POLICY,
    )
