"""Background work on RQ: raster metadata extraction, provider processors, ingest jobs.

``run_worker`` is what ``stacql worker`` runs; ``enqueue_extract`` is what the APIs call
for an uploaded raster, ``enqueue_ingest_catalog`` for a bulk load of a static catalog or
ndjson file, ``enqueue_raster_folder`` what ``stacql ingest --rasters`` calls.
Job state lives in the ``jobs`` table (``catalog.jobs``).
"""

from workers.context import RetryPolicy, WorkerConfig
from workers.errors import (
    InvalidMetadata,
    InvalidRaster,
    MissingDatetime,
    QueueUnavailable,
    UnreadableRaster,
)
from workers.extract import ExtractOptions, ProviderMetadata, build_item, extract
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
    "enqueue_extract",
    "enqueue_ingest_catalog",
    "enqueue_raster_folder",
    "extract",
    "find_rasters",
    "run_worker",
    "submit_job",
]
