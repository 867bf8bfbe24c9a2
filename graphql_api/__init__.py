"""GraphQL API (strawberry) over the catalog: queries, mutations, subscriptions."""

from catalog.operations import UploadedRaster
from graphql_api.context import Context, Limits, Services
from graphql_api.events import ItemEvents
from graphql_api.router import create_graphql_router
from graphql_api.schema import create_schema, schema_sdl

__all__ = [
    "Context",
    "ItemEvents",
    "Limits",
    "Services",
    "UploadedRaster",
    "create_graphql_router",
    "create_schema",
    "schema_sdl",
]
