"""Guards in front of the routes: JSON bodies are bounded in size and must be objects.

stac-fastapi's request models run validators that assume an object and fail with a 500
on ``[null]`` or ``3``; checking the shape once here turns every such body into a 400.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stac_compat.errors import error_body

DEFAULT_MAX_BODY = 50 * 1024 * 1024
SEARCH_MAX_BODY = 4 * 1024 * 1024
"""Bodies of searches and aggregations: their largest parameters (10,000 positions, a
filter of 2,000 nodes, 1,000 ids) fit in well under 1 MB. Decoded, a JSON body takes
up to 20 times its size in memory (48 MB of numbers: 960 MB), so only writes, which
may carry a FeatureCollection, get the whole ``max_body``."""
_SEARCHES = ("/search", "/aggregate")
_WRITES = frozenset({"POST", "PUT", "PATCH"})


class JsonBodyGuard:
    """Reject oversized bodies (413), bodies that are not JSON (415) and JSON bodies that
    are not objects (400); paths under ``skip_prefixes`` (GraphQL uploads) pass through."""

    def __init__(
        self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY, skip_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.skip_prefixes = skip_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WRITES
            or scope["path"].startswith(self.skip_prefixes or ("\0",))
        ):
            await self.app(scope, receive, send)
            return
        limit = self.max_body
        if scope["path"].rstrip("/").endswith(_SEARCHES):
            limit = min(limit, SEARCH_MAX_BODY)
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _reply(send, 413, "BODY_TOO_LARGE", f"the body exceeds {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if body.strip() and not _is_json(scope):
            await _reply(send, 415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json")
            return
        problem = _json_problem(body, scope["method"])
        if problem:
            await _reply(send, 400, "INVALID_INPUT", problem)
            return
        await self.app(scope, replay_body(body), send)


def _is_json(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
    return not content_type or "json" in content_type


def _json_problem(body: bytes, method: str) -> str | None:
    stripped = body.lstrip()
    if not stripped:
        return None
    if len(body) > SEARCH_MAX_BODY:
        # Not decoded twice (here and by the route): the first byte tells an object.
        openings = (b"{", b"[") if method == "PATCH" else (b"{",)
        return None if stripped[:1] in openings else "the request body must be a JSON object"
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return f"the request body is not JSON: {exc}"
    if isinstance(value, dict) or (method == "PATCH" and isinstance(value, list)):
        return None
    return "the request body must be a JSON object"


def replay_body(body: bytes) -> Receive:
    """A ``receive`` that gives ``body`` once, whole (then a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _reply(send: Send, status: int, code: str, description: str) -> None:
    payload = orjson.dumps(error_body(code, description))
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode())],
    })
    await send({"type": "http.response.body", "body": payload})
