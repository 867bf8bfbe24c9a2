"""What a worker process hands its jobs: connection URLs and policies, never open pools.

RQ calls job functions with the job's own arguments only. The worker classes of
:mod:`workers.runner` set :data:`WORKER_CONFIG` around each job they perform, so a job
reads its configuration from there and opens its engine and store itself, in the
process that runs it (a pool inherited across ``fork`` would share sockets with the
parent).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from catalog.access import FetchPolicy
from catalog.export import DEFAULT_RETENTION
from catalog.saved import RetryPolicy as NoticeRetryPolicy
from workers.extract.item import SAFE_DRIVERS, ExtractOptions
from workers.providers.processors import ProcessorRegistry, default_registry


@dataclass(frozen=True)
class RetryPolicy:
    """How often and after how long (seconds) a job is retried after a transient error
    (database or storage unreachable). The last interval repeats."""

    max_retries: int = 3
    intervals: tuple[int, ...] = (10, 60, 300)

    def interval(self, retries_done: int) -> int:
        """Seconds to wait before retry number ``retries_done + 1``."""
        return self.intervals[min(retries_done, len(self.intervals) - 1)]


@dataclass(frozen=True)
class NotifyConfig:
    """Webhook notices: which URLs may be posted to, retries, the request timeout
    (seconds), and how often the worker looks for written items (0: never)."""

    fetch_policy: FetchPolicy = field(default_factory=FetchPolicy)
    retry: NoticeRetryPolicy = field(default_factory=NoticeRetryPolicy)
    timeout: float = 10.0
    poll_seconds: float = 1.0


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a job needs besides its arguments."""

    database_url: str
    storage_url: str
    storage_options: Mapping[str, Any] | None = None
    registry: ProcessorRegistry = field(default_factory=default_registry)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    extract: ExtractOptions = field(
        default_factory=lambda: ExtractOptions(allowed_drivers=SAFE_DRIVERS)
    )
    database_pool_size: int = 2
    # Uploads that are not cloud-optimized get a COG beside them (workers.cog).
    convert_to_cog: bool = True
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    # How long export files are kept after the export finishes (None: for ever).
    export_retention: timedelta | None = DEFAULT_RETENTION
    # How often a worker removes expired export files (0: only when an export runs).
    export_sweep_seconds: float = 600.0
    # Seconds a checksum a job computed is kept in Redis for the same file, unchanged,
    # ingested again (workers.checksum_cache); 0: not kept.
    checksum_cache_ttl: int = 30 * 24 * 3600


WORKER_CONFIG: ContextVar[WorkerConfig] = ContextVar("stacql_worker_config")


class NotInWorker(RuntimeError):
    """A job function ran outside a stacql worker, so it has no configuration."""


def current_config() -> WorkerConfig:
    """The configuration of the worker running the current job."""
    try:
        return WORKER_CONFIG.get()
    except LookupError as exc:
        raise NotInWorker(
            "stacql jobs run in a stacql worker (workers.runner), which gives them their "
            "database and storage; a plain `rq worker` does not"
        ) from exc
