"""The URL clients reach the service at, for every link and href both APIs write.

With ``STACQL_API_PUBLIC_URL`` set, each request is seen as if made to that URL (scheme,
host and path prefix), whatever proxy sits in front. Without it, the request's own host
is used, and ``Forwarded`` / ``X-Forwarded-*`` headers count only when the operator
says a trusted proxy sets them (``STACQL_API_TRUST_FORWARDED``): otherwise any client
could make the API write links and signed asset URLs to a host of its choosing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

FORWARDED_HEADERS = frozenset(
    {b"forwarded", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port",
     b"x-forwarded-prefix"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class PublicUrl:
    """ASGI middleware fixing the scheme, host and root path requests are seen with."""

    def __init__(self, app: ASGIApp, public_url: str | None, trust_forwarded: bool) -> None:
        self.app = app
        self.trust_forwarded = trust_forwarded
        self.public = urlsplit(public_url.rstrip("/")) if public_url else None
        if self.public is not None and (
            self.public.scheme not in _DEFAULT_PORTS or not self.public.hostname
        ):
            raise ValueError(f"public URL {public_url!r} must be an absolute http(s) URL")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = [
                (name, value) for name, value in scope["headers"]
                if self.trust_forwarded or name not in FORWARDED_HEADERS
            ]
            scope = {**scope, "headers": headers}
            if self.public is not None:
                scope = self._as_public(scope)
        await self.app(scope, receive, send)

    def _as_public(self, scope: Scope) -> Scope:
        assert self.public is not None
        public = self.public
        scheme = public.scheme
        if scope["type"] == "websocket":
            scheme = "wss" if public.scheme == "https" else "ws"
        port = public.port or _DEFAULT_PORTS[public.scheme]
        host = public.netloc.encode("latin-1")
        headers = [(n, v) for n, v in scope["headers"]
                   if n != b"host" and n not in FORWARDED_HEADERS]
        # Starlette's path includes the root path: the public prefix goes in front of both.
        return {
            **scope, "scheme": scheme, "server": (public.hostname, port),
            "headers": [(b"host", host), *headers],
            "root_path": public.path + scope.get("root_path", ""),
            "path": public.path + scope["path"],
        }
