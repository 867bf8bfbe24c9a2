"""Read-your-writes across requests and processes when reads go to hot standbys.

Each HTTP request runs in a :class:`catalog.db.ReadScope`. A request that wrote leaves,
before its response starts, the time of its write in Redis under its caller (the hash of
its credential, or ``anonymous``) for ``ReplicaSet.read_your_writes_seconds``; the
caller's next requests, on any API process, bring that time into their scope, so their
reads go to a standby only once it has replayed past the write. Redis unreachable: the
request is treated as following a write made now (reads on a caught-up standby or the
primary), never as stale.
"""

from __future__ import annotations

import hashlib
import logging
import time

from redis.asyncio import Redis
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog.db import ReplicaSet, read_scope

log = logging.getLogger(__name__)

_PREFIX = "stacql:wrote:"


def caller_key(headers: Headers) -> str:
    """Who is calling, as far as their writes go: a digest of the credential they send
    (no lookup needed; the same key or token is the same caller), else anonymous."""
    credential = headers.get("authorization") or headers.get("x-api-key")
    if not credential:
        return "anonymous"
    return hashlib.sha256(credential.encode()).hexdigest()[:32]


class ReadYourWrites:
    """ASGI middleware giving each HTTP request a read scope fed from, and feeding,
    the callers' last write times kept in Redis."""

    def __init__(self, app: ASGIApp, replicas: ReplicaSet, redis: Redis) -> None:
        self.app = app
        self.replicas = replicas
        self.redis = redis

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = _PREFIX + caller_key(Headers(scope=scope))
        wrote_at = await self._last_write(key)
        with read_scope(wrote_at) as reads:

            async def send_marked(message: Message) -> None:
                # Before the client can see the answer, so its next request knows.
                if message["type"] == "http.response.start" and reads.wrote:
                    await self._mark(key)
                await send(message)

            await self.app(scope, receive, send_marked)

    async def _last_write(self, key: str) -> float | None:
        try:
            value = await self.redis.get(key)
        except Exception as exc:
            log.warning("write marks unreadable, reading as after a write: %s", exc)
            return time.time()
        return float(value) if value is not None else None

    async def _mark(self, key: str) -> None:
        ttl_ms = int(self.replicas.read_your_writes_seconds * 1000) + 1
        try:
            await self.redis.set(key, repr(time.time()), px=ttl_ms)
        except Exception as exc:  # the rotation's lag bound still holds
            log.warning("write mark not kept: %s", exc)
