"""Automatic persisted queries (APQ), as Apollo clients send them.

A client sends ``extensions: {"persistedQuery": {"version": 1, "sha256Hash": H}}`` with
no query; an unknown ``H`` answers ``PersistedQueryNotFound`` (HTTP 200, code
``PERSISTED_QUERY_NOT_FOUND``: Apollo's link turns persisted queries off for good on a
400 or 500), and the client sends the query again beside its hash, which is checked
and stored. Stored queries live in Redis so every uvicorn worker and replica shares
them, each worker keeping its most used ones in memory too: a hash names one query
for ever, so a copy is never stale.

Bounds: a query longer than ``max_query_bytes`` runs but is not stored; at most
``max_entries`` queries are kept, the least recently used dropped first, and each
expires ``ttl_seconds`` after its last use. A lost Redis costs the round trips APQ saves,
never a request: a lookup that fails is a miss and a store that fails is skipped.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

APQ_VERSION = 1
_HASH = re.compile(r"[0-9a-f]{64}")
# Keeps SET, the recency index and its trimming in one atomic step, so concurrent
# workers never leave a stored query outside the index that bounds them.
_STORE = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[2]))
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if excess > 0 then
  local dropped = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #dropped, 2 do redis.call('DEL', ARGV[6] .. dropped[i]) end
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return excess
"""


class PersistedQueryError(Exception):
    """A persisted-query request that cannot run; ``status`` is its HTTP status."""

    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class PersistedQuerySettings:
    """Bounds of the stored queries (``STACQL_GRAPHQL_APQ_*``)."""

    max_query_bytes: int = 16_384
    ttl_seconds: int = 7 * 24 * 3600
    max_entries: int = 20_000
    local_entries: int = 512
    """Queries each worker keeps in memory, besides Redis."""


def query_hash(query: str) -> str:
    """The SHA-256 of a query's UTF-8 text, in lowercase hex (what clients send)."""
    return hashlib.sha256(query.encode()).hexdigest()


def _requested_hash(extensions: dict[str, Any] | None) -> str | None:
    """The hash of ``extensions.persistedQuery``, checked; None without one."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != APQ_VERSION:
        raise PersistedQueryError(
            f"extensions.persistedQuery must be {{version: {APQ_VERSION}, sha256Hash}}",
            "PERSISTED_QUERY_INVALID",
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _HASH.fullmatch(digest.lower()):
        raise PersistedQueryError(
            "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits",
            "PERSISTED_QUERY_INVALID",
        )
    return digest.lower()


class PersistedQueries:
    """Stored queries by hash: Redis for every worker, a small LRU per worker."""

    def __init__(
        self, redis: Redis | None, settings: PersistedQuerySettings | None = None,
        prefix: str = "stacql:apq:",
    ) -> None:
        self.redis = redis
        self.settings = settings or PersistedQuerySettings()
        self.prefix = prefix
        self.index = f"{prefix}index"
        self.local: OrderedDict[str, str] = OrderedDict()
        self._store = redis.register_script(_STORE) if redis is not None else None

    async def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The query to run: ``query`` itself (checked against its hash and stored when
        the request has one), or the stored query of the request's hash.

        Raises ``PersistedQueryError``: ``PERSISTED_QUERY_NOT_FOUND`` (HTTP 200) for an
        unknown hash, ``PERSISTED_QUERY_HASH_MISMATCH`` or ``PERSISTED_QUERY_INVALID``
        (HTTP 400) for a hash that is not the query's or not a hash.
        """
        digest = _requested_hash(extensions)
        if digest is None:
            return query
        if query is None:
            found = await self.get(digest)
            if found is None:
                raise PersistedQueryError(
                    "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", status=200
                )
            return found
        if query_hash(query) != digest:
            raise PersistedQueryError(
                "provided sha256Hash does not match the query", "PERSISTED_QUERY_HASH_MISMATCH"
            )
        await self.put(digest, query)
        return query

    async def get(self, digest: str) -> str | None:
        """The stored query of ``digest``, its lease renewed; None when unknown."""
        if digest in self.local:
            self.local.move_to_end(digest)
            return self.local[digest]
        if self.redis is None:
            return None
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.getex(self.prefix + digest, ex=self.settings.ttl_seconds)
                pipe.zadd(self.index, {digest: time.time()}, xx=True)
                stored, _ = await pipe.execute()
        except RedisError as exc:
            logger.warning("persisted query lookup failed: %s", exc)
            return None
        if stored is None:
            return None
        query = stored.decode() if isinstance(stored, bytes) else str(stored)
        self._remember(digest, query)
        return query

    async def put(self, digest: str, query: str) -> None:
        """Store ``query`` under ``digest`` unless it is over the size bound."""
        if len(query.encode()) > self.settings.max_query_bytes:
            return
        self._remember(digest, query)
        if self._store is None:
            return
        settings = self.settings
        try:
            await self._store(
                keys=[self.prefix + digest, self.index],
                args=[query, settings.ttl_seconds, time.time(), settings.max_entries, digest,
                      self.prefix],
            )
        except RedisError as exc:
            logger.warning("persisted query not stored: %s", exc)

    def _remember(self, digest: str, query: str) -> None:
        self.local[digest] = query
        self.local.move_to_end(digest)
        while len(self.local) > self.settings.local_entries:
            self.local.popitem(last=False)
