"""Plain item searches answered without FastAPI's routing and dependency solving.

The common searches (a collection's items by page, ``/search`` by collections, ids, bbox
and time, and every ``POST /search``) spend about a third of their CPU in
FastAPI: matching routes, solving the dependencies of stac-fastapi's request classes
and checking each of their many query parameters, most of them absent. This middleware,
innermost in the STAC application, reads such a request itself, builds the very request
class or model the route would (so stac-fastapi's converters and validators run as they
do there), and calls the same client method.

It takes only what it reads exactly as the route does. Anything else goes to the route:
another query parameter, a repeated or empty one, a limit not written as a plain number,
a body that is not a JSON object, a value the request class or model refuses (the route
then answers with its own error). A POST body is validated by the route's own model.
Errors raised once the search runs are rendered by the application's own exception
handlers, so a request gets the same answer either way (``tests/stac_compat/
test_plain_search.py`` compares both on the same requests).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import attr
import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from stac_compat.middleware import replay_body

ITEMS_PARAMETERS = frozenset({"limit", "bbox", "datetime", "token"})
SEARCH_PARAMETERS = frozenset({"collections", "ids", "bbox", "datetime", "limit", "token"})
LIMIT_CAP = 10_000
"""stac-fastapi's cap of a GET ``limit`` (larger values are cropped to it)."""
_PLAIN_LIMIT = re.compile(r"[1-9][0-9]{0,8}")

Handler = Callable[[Request], Awaitable[Response]]
ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


class PlainSearches:
    """ASGI middleware answering plain GET item pages and GET/POST searches by calling
    ``client`` directly; every other request goes on to ``app``.

    ``items_get``, ``search_get`` and ``search_post`` are the routes' request classes
    and model; ``handlers`` gives the application's handler of an exception."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: Any,
        items_get: type,
        search_get: type,
        search_post: type[BaseModel],
        handlers: Callable[[Exception], ExceptionHandler],
    ) -> None:
        self.app = app
        self.client = client
        self.items_get = items_get
        self.search_get = search_get
        self.search_post = search_post
        self.handlers = handlers
        self.items_parameters = ITEMS_PARAMETERS & _fields(items_get)
        self.search_parameters = SEARCH_PARAMETERS & _fields(search_get)
        self.answered = 0
        """Requests answered here (the rest went on to the routes)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler: Handler | None = None
        if scope["type"] == "http":
            method, path = scope["method"], route_path(scope)
            if method == "GET":
                handler = self._get(path, scope.get("query_string", b""))
            elif method == "POST" and path == "/search":
                body = await _read_body(receive)
                receive = replay_body(body)
                handler = self._post(body)
        if handler is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:
            response = await self.handlers(exc)(request, exc)
        self.answered += 1
        await response(scope, receive, send)

    def _get(self, path: str, query_string: bytes) -> Handler | None:
        if path == "/search":
            values = _query(query_string, self.search_parameters)
            if values is None:
                return None
            get_search = self.client.get_search
            return _built(self.search_get, values, lambda r, kw: get_search(request=r, **kw))
        parts = path.split("/")
        if len(parts) != 4 or parts[1] != "collections" or parts[3] != "items" or not parts[2]:
            return None
        values = _query(query_string, self.items_parameters)
        if values is None:
            return None
        items = self.client.item_collection
        return _built(self.items_get, {"collection_id": parts[2], **values},
                      lambda r, kw: items(request=r, **kw))

    def _post(self, body: bytes) -> Handler | None:
        try:
            values = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(values, dict):
            return None
        try:
            search = self.search_post.model_validate(values)
        except ValidationError:
            return None
        post_search = self.client.post_search
        return lambda request: post_search(search, request=request)


def _built(
    cls: type, values: dict[str, Any], call: Callable[[Request, dict[str, Any]], Awaitable[Any]]
) -> Handler | None:
    """A handler calling ``call`` with the request class built from ``values``; None when
    the class refuses them (its converters raise), for the route to answer."""
    try:
        kwargs = cls(**values).kwargs()
    except Exception:
        return None
    return lambda request: call(request, kwargs)


def _query(query_string: bytes, allowed: frozenset[str]) -> dict[str, Any] | None:
    """The query's parameters as the request class takes them, or None when one is not
    ``allowed``, repeated or empty, or ``limit`` is not a plain positive number."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    values: dict[str, Any] = dict(pairs)
    if len(values) != len(pairs) or not values.keys() <= allowed or not all(values.values()):
        return None
    if "limit" in values:
        limit = values["limit"]
        if not _PLAIN_LIMIT.fullmatch(limit):
            return None
        values["limit"] = min(int(limit), LIMIT_CAP)
    return values


def _fields(cls: type) -> frozenset[str]:
    return frozenset(attr.fields_dict(cls))


def route_path(scope: Scope) -> str:
    """The request's path below the application's root path, as routes match it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("", "/"):
        return path[len(root):]
    return path


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def exception_handlers(
    handlers: Mapping[Any, ExceptionHandler],
) -> Callable[[Exception], ExceptionHandler]:
    """The lookup of an application's handler of an exception, by the exception's class
    hierarchy (as Starlette looks it up)."""

    def lookup(exc: Exception) -> ExceptionHandler:
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        raise exc

    return lookup
