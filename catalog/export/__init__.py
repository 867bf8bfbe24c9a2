"""Search results out as files (ndjson or stac-geoparquet), and stac-geoparquet in.

``run_export`` streams a search's items to a file in the asset store page by page
(``catalog.export.retention`` removes the files past their expiry);
``catalog.export.geoparquet`` converts between ndjson and stac-geoparquet in bounded
memory and reads stac-geoparquet back as STAC documents for the loader. pyarrow and
stac-geoparquet are imported only when a file is converted or read.
"""

from catalog.export.formats import FORMATS, ExportFormat, export_format
from catalog.export.retention import (
    DEFAULT_RETENTION,
    finish_export,
    is_expired,
    purge_expired_exports,
)
from catalog.export.run import ExportResult, run_export
from catalog.export.spec import ExportSpec, owner_of

__all__ = [
    "DEFAULT_RETENTION",
    "FORMATS",
    "ExportFormat",
    "ExportResult",
    "ExportSpec",
    "export_format",
    "finish_export",
    "is_expired",
    "owner_of",
    "purge_expired_exports",
    "run_export",
]
