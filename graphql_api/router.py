"""The FastAPI router serving ``/graphql``: queries, multipart uploads, subscriptions."""

from __future__ import annotations

from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from graphql_api.context import Context, Services
from graphql_api.schema import create_schema


def create_graphql_router(services: Services) -> GraphQLRouter:
    """GraphQL at the router's root, with GraphiQL for browsers (mount it at /graphql)."""

    async def context() -> Context:
        return Context(services)

    return GraphQLRouter(
        create_schema(services.limits),
        context_getter=context,
        graphql_ide="graphiql",
        multipart_uploads_enabled=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
    )
