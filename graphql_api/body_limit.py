"""A bound on request bodies under ``/graphql``, enforced while they stream in.

Starlette spools multipart files to disk before any resolver runs, so the upload limit
must also hold at the door: a body that announces or sends more than the bound is cut
off with a 413 and a GraphQL-shaped error, before it fills a disk.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """The body went past the bound while streaming."""


class BodySizeLimit:
    """Reply 413 to requests under ``prefix`` whose body exceeds ``max_bytes``, or
    ``anonymous_max_bytes`` when they carry no credentials.

    Anonymous callers may only read, and no query needs megabytes: their bound holds
    before strawberry decodes the variables (48 MB of them took 73 s and 1.3 GB of a
    worker before the mutation refused the caller, issue 16). Credentials are only looked
    for here; the context checks them.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, prefix: str = "/graphql",
        anonymous_max_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix
        self.anonymous_max_bytes = anonymous_max_bytes

    def _bound(self, headers: dict[bytes, bytes]) -> int:
        if self.anonymous_max_bytes is None or {b"authorization", b"x-api-key"} & headers.keys():
            return self.max_bytes
        return min(self.max_bytes, self.anonymous_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        bound = self._bound(headers)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > bound:
            await self._refuse(send, bound)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > bound:
                raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, bound)

    async def _refuse(self, send: Send, bound: int) -> None:
        anonymous = " without credentials" if bound < self.max_bytes else ""
        body = orjson.dumps({"errors": [{
            "message": f"the request body exceeds {bound} bytes{anonymous}",
            "extensions": {"code": "PAYLOAD_TOO_LARGE"},
        }]})
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
