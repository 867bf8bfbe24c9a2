"""Background work on RQ: raster metadata extraction, provider processors, ingest jobs.

``run_worker`` is what ``stacql worker`` runs; ``enqueue_extract`` is what the APIs call
for an uploaded raster. Job state lives in the ``jobs`` table (``catalog.jobs``).
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
from workers.queue import (
    DEFAULT_QUEUE,
    ExtractRequest,
    JobPolicy,
    create_queue,
    enqueue_extract,
    submit_job,
)
from workers.runner import StacqlSimpleWorker, StacqlWorker, run_worker

__all__ = [
    "DEFAULT_QUEUE",
    "ExtractOptions",
    "ExtractRequest",
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
    "extract",
    "run_worker",
    "submit_job",
]
