"""HTTP caching of GraphQL queries sent with GET (``/graphql?query=…&variables=…``).

An answer may be kept by shared caches (CDNs, proxies) only when nothing in it depends
on who asked: the caller sent no credentials and the answer has no error (an error
may be passing, such as a database restart). Such answers are ``public`` for
``max_age`` seconds and vary on the credential headers, so a cache never serves them to
a caller who has some. Answers to callers with credentials can show private collections
and are never stored (``private, no-store``). Every GET answer carries a weak ETag of
its body, and a request whose ``If-None-Match`` names it gets a 304 without one: the
query still runs, but the bytes do not travel again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

CREDENTIAL_HEADERS = ("authorization", "x-api-key")
NO_STORE = "no-store"
PRIVATE = "private, no-store"
VARY = "Authorization, X-API-Key"
# Headers a 304 repeats from the answer it stands for (RFC 9110, section 15.4.5).
_KEPT_ON_304 = ("cache-control", "etag", "vary", "content-location", "expires")


def has_credentials(request: Request) -> bool:
    """Whether the request carries an API key or a bearer token (valid or not)."""
    return any(name in request.headers for name in CREDENTIAL_HEADERS)


def etag_of(body: bytes) -> str:
    """A weak validator of ``body`` (weak: compression changes the bytes, not the meaning)."""
    return f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def _matches(if_none_match: str, etag: str) -> bool:
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in wanted or etag.removeprefix("W/") in wanted


@dataclass(frozen=True)
class GetCaching:
    """The caching headers of answers to GET queries."""

    max_age: int = 60

    def cache_control(self, request: Request, failed: bool) -> str:
        """``Cache-Control`` of an answer to ``request`` (``failed``: it has errors)."""
        if has_credentials(request):
            return PRIVATE
        if failed:
            return NO_STORE
        if self.max_age == 0:
            return "public, no-cache"
        return f"public, max-age={self.max_age}"

    def apply(self, request: Request, response: Response, failed: bool) -> Response:
        """``response`` with its caching headers, or a 304 when the client holds it."""
        control = self.cache_control(request, failed)
        response.headers["cache-control"] = control
        response.headers["vary"] = VARY
        if control in (NO_STORE, PRIVATE) or response.status_code != 200:
            return response
        etag = etag_of(bytes(response.body))
        response.headers["etag"] = etag
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is None or not _matches(if_none_match, etag):
            return response
        headers = {k: v for k, v in response.headers.items() if k in _KEPT_ON_304}
        return Response(status_code=304, headers=headers)
