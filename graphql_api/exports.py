"""The ``exportItems`` mutation: a search's items to a stac-geoparquet or ndjson file.

It takes the arguments of the ``items`` query and returns the export's job at once;
the job's ``result`` describes the file (format, media type, items, bytes,
collections), which its owner downloads at ``/exports/{id}/file``. The rules are
``catalog.operations.ExportOperations``'.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from catalog.errors import ServiceUnavailable
from graphql_api.inputs import (
    BboxArg,
    DatetimeRange,
    FilterArg,
    PropertyCondition,
    SortBy,
    TextArg,
    combined_filter,
    sortby_of,
)
from graphql_api.scalars import GeoJSON
from graphql_api.types import Info, Job


@strawberry.enum(description="File formats of an export.")
class ExportFormat(Enum):
    GEOPARQUET = "geoparquet"
    NDJSON = "ndjson"


def stac_search(
    collections: list[str] | None, ids: list[str] | None, bbox: list[float] | None,
    intersects: Any, datetime: DatetimeRange | None, filter: Any,
    where: list[PropertyCondition] | None, q: str | None, sort_by: list[SortBy] | None,
) -> dict[str, Any]:
    """The STAC search body the ``items`` query's arguments stand for."""
    body = {
        "collections": collections, "ids": ids, "bbox": bbox, "intersects": intersects,
        "datetime": datetime.as_interval() if datetime else None,
        "filter": combined_filter(filter, where), "q": q, "sortby": sortby_of(sort_by),
    }
    if body["filter"] is not None:
        body["filter-lang"] = "cql2-json"
    return {k: v for k, v in body.items() if v is not None}


@strawberry.type
class ExportMutation:
    @strawberry.mutation(
        description="Export every item the search matches (the arguments of `items`) to a "
        "file, stac-geoparquet by default; returns the job at once. Its result names the "
        "file, downloadable at `/exports/{id}/file` by its owner."
    )
    async def export_items(
        self,
        info: Info,
        collections: list[str] | None = None,
        ids: list[str] | None = None,
        bbox: BboxArg = None,
        intersects: GeoJSON | None = None,
        datetime: DatetimeRange | None = None,
        filter: FilterArg = None,
        where: list[PropertyCondition] | None = None,
        q: TextArg = None,
        sort_by: list[SortBy] | None = None,
        format: ExportFormat = ExportFormat.GEOPARQUET,
    ) -> Job:
        exports = info.context.services.exports
        if exports is None:
            raise ServiceUnavailable("exports are not enabled on this server")
        search = stac_search(collections, ids, bbox, intersects, datetime, filter, where, q,
                             sort_by)
        record = await exports.start(
            await info.context.principal(), search, format.value, info.context.base_url
        )
        return Job(_record=record)
