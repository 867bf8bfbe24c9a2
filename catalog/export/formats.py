"""The file formats a search can be exported to."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.errors import InvalidInput

EXPORT_JOB_KIND = "export_items"
"""The ``kind`` of export jobs in the jobs table."""


@dataclass(frozen=True)
class ExportFormat:
    """A file format: its name in requests, file suffix and media type."""

    name: str
    suffix: str
    media_type: str


NDJSON = ExportFormat("ndjson", ".ndjson", "application/x-ndjson")
GEOPARQUET = ExportFormat("geoparquet", ".parquet", "application/vnd.apache.parquet")
FORMATS = {f.name: f for f in (GEOPARQUET, NDJSON)}
"""Formats by name; stac-geoparquet is the default."""


def export_format(name: str | None) -> ExportFormat:
    """The format called ``name`` (case-insensitive; None: geoparquet); ``InvalidInput``
    for another."""
    if name is None:
        return GEOPARQUET
    found = FORMATS.get(str(name).lower())
    if found is None:
        raise InvalidInput(f"export format {name!r} is not one of {', '.join(FORMATS)}")
    return found
