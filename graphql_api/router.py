"""The FastAPI router serving ``/graphql``: queries, multipart uploads, subscriptions.

Every answer it gives is GraphQL's JSON shape, errors included: strawberry answers a body
it cannot read with a plain-text 400, and an exception escaping it (the standard library's
JSON parser raised ``RecursionError`` on variables nested 1,000 deep, issue 16) would be
Starlette's plain-text 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from catalog.db.errors import as_catalog_error
from catalog.errors import ServiceUnavailable
from graphql_api.context import Context, Services
from graphql_api.errors import code_of
from graphql_api.schema import create_schema
from graphql_api.variables import VariablesTooLarge, check_variable_values

logger = logging.getLogger(__name__)

_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
          413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


def error_response(status: int, message: str, code: str | None = None) -> JSONResponse:
    """A GraphQL-shaped error answer (``errors[0].extensions.code``)."""
    if code is None:
        code = "INTERNAL_SERVER_ERROR" if status >= 500 else _CODES.get(status, f"HTTP_{status}")
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status)


class JsonErrorRoute(APIRoute):
    """A route whose error answers are all JSON, whatever strawberry or a bug produced."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except VariablesTooLarge as exc:
                return error_response(400, str(exc), exc.code)
            except StarletteHTTPException:
                raise  # FastAPI's own (validation, 404...): the app's handlers render them
            except Exception as exc:
                translated = as_catalog_error(exc)  # a dead connection met outside a resolver
                if isinstance(translated, ServiceUnavailable):
                    return error_response(503, translated.message, code_of(translated))
                logger.error("GraphQL request failed: %s", exc, exc_info=exc)
                return error_response(500, "Internal server error")
            media_type = response.headers.get("content-type", "")
            body = getattr(response, "body", None)
            if response.status_code >= 400 and "json" not in media_type and body is not None:
                return error_response(response.status_code, bytes(body).decode(errors="replace"))
            return response

        return handle


class CatalogGraphQLRouter(GraphQLRouter):
    """strawberry's router reading JSON with orjson: faster, and its nesting limit (1,024)
    is a ``JSONDecodeError`` where the standard library raised ``RecursionError``."""

    def decode_json(self, data: str | bytes) -> object:
        decoded = orjson.loads(data)
        if isinstance(decoded, dict) and decoded.get("variables") is not None:
            check_variable_values(decoded["variables"])
        return decoded


def create_graphql_router(services: Services) -> GraphQLRouter:
    """GraphQL at the router's root, with GraphiQL for browsers (mount it at /graphql)."""

    async def context() -> Context:
        return Context(services)

    return CatalogGraphQLRouter(
        create_schema(services.limits),
        context_getter=context,
        graphql_ide="graphiql",
        multipart_uploads_enabled=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        route_class=JsonErrorRoute,
    )
