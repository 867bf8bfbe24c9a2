"""Writes are refused before their bodies are read, when the caller may not make them.

The Transaction routes checked the caller's write permission in the client, after the
body had been received, checked by ``JsonBodyGuard`` and decoded by FastAPI: a 48 MB body
cost an anonymous caller's request 650 MB of a worker and 14 s of its event loop before
the 401 (issue 16). ``WriteAccess`` sits between ``Authentication`` (which puts the
principal in the scope from the headers alone) and the body guard, and answers from the
method and path: the collection a route writes to is in its path, except for
``POST /collections``, where only a caller that may write somewhere gets in (the client
checks the id of the body against the key's collection).

``OrjsonBodyRoute`` then decodes an admitted body once, with orjson, for FastAPI and the
client alike (FastAPI's own decoding, with the standard library, came in addition to the
client's).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.access import Principal, require_write
from catalog.errors import CatalogError, Forbidden
from stac_compat.access import principal_of
from stac_compat.errors import error_body, status_for

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The Transaction extension's paths: /collections, /collections/{c}, /collections/{c}/items
# and /collections/{c}/items/{i}.
_TRANSACTION_PATH = re.compile(r"/collections(?:/(?P<collection>[^/]+)(?:/items(?:/[^/]+)?)?)?/?")


NEW_COLLECTION = ""
"""What ``written_collection`` returns for ``POST /collections`` (the id is in the body)."""


def written_collection(method: str, path: str) -> str | None:
    """The id of the collection a request would write to, ``NEW_COLLECTION`` for
    ``POST /collections``, or None when it is not a Transaction write."""
    if method not in _WRITES:
        return None
    match = _TRANSACTION_PATH.fullmatch(path)
    if match is None or (match["collection"] is None and method != "POST"):
        return None
    return match["collection"] or NEW_COLLECTION


def require_writer(principal: Principal, collection_id: str) -> None:
    """Raise ``Unauthorized`` or ``Forbidden`` unless ``principal`` may write to
    ``collection_id`` (``NEW_COLLECTION``: may create one, as its key's collection or any)."""
    target = collection_id or principal.collection_id or ""
    if collection_id == NEW_COLLECTION and not principal.is_anonymous:
        if not principal.may_write(target):
            raise Forbidden(f"{principal.name} may not create collections")
        return
    require_write(principal, target)


class WriteAccess:
    """ASGI middleware refusing Transaction writes the caller may not make, unread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            target = written_collection(scope["method"], path)
            if target is not None:
                try:
                    require_writer(principal_of(Request(scope)), target)
                except CatalogError as exc:
                    await _refuse(send, exc)
                    return
        await self.app(scope, receive, send)


async def _refuse(send: Send, exc: CatalogError) -> None:
    body = orjson.dumps(error_body(exc.code, exc.message))
    status = status_for(exc)
    # Unread, the body stays in the socket: the server closes the connection after this.
    headers = [(b"content-type", b"application/json"), (b"connection", b"close"),
               (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="stacql"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class OrjsonBodyRoute(APIRoute):
    """A route whose JSON body is decoded once, by orjson (its ``JSONDecodeError`` is the
    standard library's, so FastAPI's handling of bad JSON is unchanged); handlers read the
    decoded body back with ``await request.json()``."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(_OrjsonRequest(request.scope, request.receive))

        return handle
