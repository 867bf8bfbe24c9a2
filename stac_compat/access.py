"""Who is calling the STAC API: resolved once per request from its headers.

``Authentication`` reads ``Authorization: Bearer`` / ``X-API-Key`` on the STAC API's
requests (it is middleware of the STAC sub-application; GraphQL resolves its own
callers), keeps the principal in the request scope, and answers 401 with a STAC error
body for a wrong, revoked or expired credential. Clients read it back with :func:`principal_of`.
"""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.access import ANONYMOUS, JwtVerifier, Principal, authenticate, credential_of
from catalog.db.errors import translate_db_errors
from catalog.errors import CatalogError
from stac_compat.errors import error_body, status_for

_KEY = "stacql.principal"


def principal_of(request: Request) -> Principal:
    """The caller of ``request`` (anonymous when no credentials came with it)."""
    return request.scope.get(_KEY, ANONYMOUS)


class Authentication:
    """ASGI middleware putting the caller's principal in the scope of each request."""

    def __init__(
        self,
        app: ASGIApp,
        sessions: async_sessionmaker[AsyncSession],
        jwt: JwtVerifier | None = None,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.jwt = jwt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            token = credential_of(headers.get("authorization"), headers.get("x-api-key"))
            if token is not None:
                # Closing the session returns its connection, which may turn out dead.
                with translate_db_errors():
                    async with self.sessions() as session:
                        scope[_KEY] = await authenticate(session, token, self.jwt)
        except CatalogError as exc:
            body = orjson.dumps(error_body(exc.code, exc.message))
            await send({"type": "http.response.start", "status": status_for(exc), "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="stacql"'),
            ]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
