"""Queryables (Filter extension): the JSON Schema of the fields a filter can use,
derived from the properties actually stored."""

from __future__ import annotations

from typing import Any

import attr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stac_fastapi.extensions.filter.client import AsyncBaseFiltersClient
from stac_fastapi.types.requests import get_base_url

from catalog.queryables import property_types_of
from catalog.search.lookup import get_collection
from stac_compat.access import principal_of

CORE_QUERYABLES: dict[str, dict[str, Any]] = {
    "id": {"title": "Item id", "type": "string"},
    "collection": {"title": "Collection id", "type": "string"},
    "geometry": {"title": "Footprint", "$ref": "https://geojson.org/schema/Geometry.json"},
    "datetime": {"title": "Acquisition time", "type": "string", "format": "date-time"},
    "start_datetime": {"type": "string", "format": "date-time"},
    "end_datetime": {"type": "string", "format": "date-time"},
}


def property_schema(types: list[str]) -> dict[str, Any]:
    """The JSON Schema of a property from the JSON types its values take."""
    kinds = [t for t in types if t != "null"] or ["null"]
    schema: dict[str, Any] = {"type": kinds[0] if len(kinds) == 1 else kinds}
    return schema


@attr.s
class QueryablesClient(AsyncBaseFiltersClient):
    """GET /queryables and GET /collections/{id}/queryables."""

    sessions: async_sessionmaker[AsyncSession] = attr.ib(kw_only=True)

    async def get_queryables(self, collection_id: str | None = None, **kwargs: Any) -> dict:
        """Called with `GET /queryables` or `GET /collections/{collection_id}/queryables`."""
        base = get_base_url(kwargs["request"])
        readable = principal_of(kwargs["request"]).readable_private
        async with self.sessions() as session:
            if collection_id is not None:
                await get_collection(session, collection_id, readable)
            types = await property_types_of(session, collection_id, readable)
        properties = dict(CORE_QUERYABLES)
        for name, kinds in types.items():
            properties.setdefault(name, property_schema(kinds))
        path = f"collections/{collection_id}/queryables" if collection_id else "queryables"
        return {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": f"{base}{path}",
            "type": "object",
            "title": f"Queryables of {collection_id or 'the catalog'}",
            "properties": properties,
            "additionalProperties": True,
        }
