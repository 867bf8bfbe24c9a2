"""The FastAPI router serving ``/graphql``: queries (POST, and GET for HTTP caches),
automatic persisted queries, multipart uploads, subscriptions, and GraphiQL.

Every answer it gives is GraphQL's JSON shape, errors included: strawberry answers a body
it cannot read with a plain-text 400, and an exception escaping it (the standard library's
JSON parser raised ``RecursionError`` on variables nested 1,000 deep, issue 16) would be
Starlette's plain-text 500. Error answers are never stored by caches (``no-store``).

GET follows the GraphQL-over-HTTP draft: ``query``, ``variables`` (JSON),
``operationName`` and ``extensions`` (JSON) as URL parameters; a mutation sent with GET
is refused with 405 and ``Allow: POST``. A GET without ``query`` or ``extensions`` from
a browser (``Accept: text/html``) gets GraphiQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import orjson
from cross_web import AsyncHTTPRequestAdapter
from cross_web import HTTPException as StrawberryHTTPException
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from catalog.db.errors import as_catalog_error
from catalog.errors import ServiceUnavailable
from graphql_api.context import Context, Services
from graphql_api.errors import code_of
from graphql_api.http_cache import NO_STORE, GetCaching
from graphql_api.ide import GraphiQLPage
from graphql_api.persisted import PersistedQueries, PersistedQueryError
from graphql_api.schema import create_schema
from graphql_api.variables import VariablesTooLarge, check_variable_values

logger = logging.getLogger(__name__)

_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
          413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


class MethodNotAllowed(Exception):
    """An operation its HTTP method may not carry (a mutation sent with GET)."""


def error_response(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A GraphQL-shaped error answer (``errors[0].extensions.code``), never cached."""
    if code is None:
        code = "INTERNAL_SERVER_ERROR" if status >= 500 else _CODES.get(status, f"HTTP_{status}")
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(
        body, status_code=status, headers={"cache-control": NO_STORE, **(headers or {})}
    )


class JsonErrorRoute(APIRoute):
    """A route whose error answers are all JSON, whatever strawberry or a bug produced."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except VariablesTooLarge as exc:
                return error_response(400, str(exc), exc.code)
            except PersistedQueryError as exc:
                return error_response(exc.status, exc.message, exc.code)
            except MethodNotAllowed as exc:
                return error_response(405, str(exc), "METHOD_NOT_ALLOWED", {"allow": "POST"})
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
    """strawberry's router reading JSON with orjson (faster, and its nesting limit (1,024)
    is a ``JSONDecodeError`` where the standard library raised ``RecursionError``), with
    persisted queries, cached GET answers and our own GraphiQL."""

    def __init__(
        self, schema: BaseSchema, context_getter: Callable[[], Awaitable[Context]],
        persisted: PersistedQueries | None = None, caching: GetCaching | None = None,
        ide: GraphiQLPage | None = None,
    ) -> None:
        super().__init__(
            schema,
            context_getter=context_getter,
            graphql_ide="graphiql",  # rendered by ``render_graphql_ide``: our own page
            multipart_uploads_enabled=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            route_class=JsonErrorRoute,
        )
        self.persisted = persisted
        self.caching = caching or GetCaching()
        self.ide = ide

    def encode_json(self, data: object) -> str:
        """The response in JSON, with orjson (a page of 100 items with their assets took
        the standard library 2 ms; orjson 0.1). The standard library's encoder remains
        for what orjson refuses (integers past 64 bits). Text, not bytes: strawberry
        sends bytes over a websocket as binary frames, which browsers' graphql-ws
        clients cannot read."""
        try:
            return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return json.dumps(data, separators=(",", ":"))

    def decode_json(self, data: str | bytes) -> object:
        decoded = orjson.loads(data)
        if isinstance(decoded, dict) and decoded.get("variables") is not None:
            check_variable_values(decoded["variables"])
        return decoded

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """A browser's GET carrying no operation (an APQ GET has only ``extensions``)."""
        params = request.query_params
        return (
            request.method == "GET" and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        if self.ide is None:
            raise StrawberryHTTPException(404, "Not Found")
        return self.ide.response()

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request's operation, its query taken from the persisted queries when it
        names one by hash (``PersistedQueryError`` otherwise)."""
        data = await super().parse_http_body(request)
        if self.persisted is not None and isinstance(data, GraphQLRequestData):
            data.query = await self.persisted.resolve(data.query, data.extensions)
        return data

    async def execute_single(  # type: ignore[override]
        self, request: Request, request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response, context: Context, root_value: object,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request=request, request_adapter=request_adapter, sub_response=sub_response,
                context=context, root_value=root_value, request_data=request_data,
            )
        except StrawberryHTTPException as exc:
            refused = exc.__cause__
            if isinstance(refused, InvalidOperationTypeError) and request_adapter.method == "GET":
                raise MethodNotAllowed(f"{exc.reason}; send them with POST") from exc
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> dict:
        # Read by ``run``: an answer with errors is never shared by caches.
        request.state.graphql_failed = bool(result.errors)
        return await super().process_result(request, result)  # type: ignore[return-value]

    async def run(  # type: ignore[override]
        self, request: Request, context: object = UNSET, root_value: object = UNSET
    ) -> Response:
        response = await super().run(request, context, root_value)  # type: ignore[arg-type]
        if (
            request.scope["type"] == "http" and request.method == "GET"
            and not isinstance(response, HTMLResponse) and hasattr(response, "body")
        ):
            failed = getattr(request.state, "graphql_failed", True)
            return self.caching.apply(request, response, failed)
        return response


def create_graphql_router(
    services: Services, persisted: PersistedQueries | None = None,
    caching: GetCaching | None = None, ide: GraphiQLPage | None = None,
) -> GraphQLRouter:
    """GraphQL at the router's root (mount it at /graphql): POST and GET, automatic
    persisted queries when ``persisted`` is given, GET answers cached as ``caching``
    says, and GraphiQL from ``ide`` for browsers (404 without it)."""

    async def context() -> Context:
        return Context(services)

    return CatalogGraphQLRouter(
        create_schema(services.limits), context, persisted=persisted, caching=caching, ide=ide
    )
