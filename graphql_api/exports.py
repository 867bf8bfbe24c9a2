"""The ``exportItems`` mutation: a search's items to a stac-geoparquet or ndjson file.

It takes the arguments of the ``items`` query and returns the export's job at once;
the job's ``result`` describes the file (format, media type, items, bytes,
collections), which its owner downloads at ``/exports/{id}/file``. The rules are
``catalog.operations.ExportOperations``'.
"""

from __future__ import annotations

from enum import Enum

import strawberry

from catalog.errors import ServiceUnavailable
from graphql_api import item_filter as by
from graphql_api.inputs import SortBy
from graphql_api.types import Info, Job


@strawberry.enum(description="File formats of an export.")
class ExportFormat(Enum):
    GEOPARQUET = "geoparquet"
    NDJSON = "ndjson"


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
        match: by.MatchArg = None,
        sort_by: list[SortBy] | None = None,
        format: ExportFormat = ExportFormat.GEOPARQUET,
        collections: by.OldList = None,
        ids: by.OldList = None,
        bbox: by.OldBbox = None,
        intersects: by.OldGeometry = None,
        datetime: by.OldDatetime = None,
        filter: by.OldFilter = None,
        where: by.OldWhere = None,
        q: by.OldText = None,
    ) -> Job:
        terms = by.merged(
            match, collections=collections, ids=ids, bbox=bbox, intersects=intersects,
            datetime=datetime, filter=filter, where=where, q=q,
        )
        search = by.stac_body(by.item_search(terms, sort_by))
        exports = info.context.services.exports
        if exports is None:
            raise ServiceUnavailable("exports are not enabled on this server")
        record = await exports.start(
            await info.context.principal(), search, format.value, info.context.base_url
        )
        return Job(_record=record)
