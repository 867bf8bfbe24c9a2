"""Background work on RQ: raster metadata extraction, provider processors, ingest jobs.

``run_worker`` is what ``stacql worker`` runs; ``enqueue_extract`` is what the APIs call
for an uploaded raster, ``enqueue_ingest_catalog`` for a bulk load of a static catalog or
ndjson file, ``enqueue_raster_folder`` what ``stacql ingest --rasters`` calls,
``enqueue_export`` for a search exported to a file.
Job state lives in the ``jobs`` table (``catalog.jobs``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.context import RetryPolicy, WorkerConfig
    from workers.errors import (
        InvalidMetadata,
        InvalidRaster,
        MissingDatetime,
        QueueUnavailable,
        UnreadableRaster,
    )
    from workers.export import enqueue_export
    from workers.extract import ExtractOptions, ProviderMetadata, build_item
    from workers.folders import FolderIngest, FolderReport, enqueue_raster_folder, find_rasters
    from workers.queue import (
        DEFAULT_QUEUE,
        ExtractRequest,
        IngestCatalogRequest,
        JobPolicy,
        create_queue,
        enqueue_extract,
        enqueue_ingest_catalog,
        submit_job,
    )
    from workers.runner import StacqlSimpleWorker, StacqlWorker, run_worker

# Where each public name lives. They are imported on first use (PEP 562), so a process
# that only extracts metadata (``workers.extract``) does not load RQ, Redis and
# SQLAlchemy, which the queue and job modules need. (The extraction function itself is
# ``workers.extract.extract``: ``workers.extract`` is its subpackage.)
_HOMES = {
    "RetryPolicy": "context", "WorkerConfig": "context",
    "InvalidMetadata": "errors", "InvalidRaster": "errors", "MissingDatetime": "errors",
    "QueueUnavailable": "errors", "UnreadableRaster": "errors",
    "enqueue_export": "export",
    "ExtractOptions": "extract", "ProviderMetadata": "extract", "build_item": "extract",
    "FolderIngest": "folders", "FolderReport": "folders",
    "enqueue_raster_folder": "folders", "find_rasters": "folders",
    "DEFAULT_QUEUE": "queue", "ExtractRequest": "queue", "IngestCatalogRequest": "queue",
    "JobPolicy": "queue", "create_queue": "queue", "enqueue_extract": "queue",
    "enqueue_ingest_catalog": "queue", "submit_job": "queue",
    "StacqlSimpleWorker": "runner", "StacqlWorker": "runner", "run_worker": "runner",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'workers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workers.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_QUEUE",
    "ExtractOptions",
    "ExtractRequest",
    "FolderIngest",
    "FolderReport",
    "IngestCatalogRequest",
    "InvalidMetadata",
    "InvalidRaster",
    "JobPolicy",
    "MissingDatetime",
    "ProviderMetadata",
    "QueueUnavailable",
    "RetryPolicy",
    "StacqlSimpleWorker",
    "StacqlWorker",
    "UnreadableRaster",
    "WorkerConfig",
    "build_item",
    "create_queue",
    "enqueue_export",
    "enqueue_extract",
    "enqueue_ingest_catalog",
    "enqueue_raster_folder",
    "find_rasters",
    "run_worker",
    "submit_job",
]
