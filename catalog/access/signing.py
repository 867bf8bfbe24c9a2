"""Signed asset grants: a caller's read access carried in a URL, for clients that cannot
send headers (an ``<img>``, a map tile layer, GDAL's ``/vsicurl/``, rasterio).

A grant reads ``<payload>.<signature>`` (both base64url): the payload names the caller's
collection limit, the API key it came from and an expiry; the signature is an
HMAC-SHA256 of the payload under the service's signing secret. A grant only ever reads:
whatever the caller's scope, the principal it stands for has ``read``. A grant outlives
neither its expiry nor its credential (a JWT's ``exp``); a grant made from an API key is
refused once that key is revoked (checked where it is used, :func:`grant_is_current`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.access.keys import key_is_active
from catalog.access.principal import Principal
from catalog.db.errors import translate_db_errors
from catalog.db.models import ServiceSecret
from catalog.errors import Unauthorized

SIGNING_SECRET_NAME = "asset-grants"
_VERSION = 1

__all__ = ["AssetSigner", "grant_is_current", "stored_signing_secret"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class AssetSigner:
    """Makes and checks grants with ``secret``; grants live ``ttl_seconds`` at most."""

    secret: bytes
    ttl_seconds: int = 3600

    def _signature(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, payload, hashlib.sha256).digest()

    def grant(self, principal: Principal, now: float | None = None) -> str | None:
        """A grant of ``principal``'s read access, or None for an anonymous caller (whose
        reads need none)."""
        if principal.is_anonymous:
            return None
        expires = int((now or time.time()) + self.ttl_seconds)
        if principal.expires_at is not None:
            expires = min(expires, int(principal.expires_at))
        payload = orjson.dumps(
            [_VERSION, principal.collection_id, principal.key_id, expires, principal.name]
        )
        return f"{_b64(payload)}.{_b64(self._signature(payload))}"

    def principal(self, grant: str, now: float | None = None) -> Principal:
        """The read-only caller a grant stands for; ``Unauthorized`` if it is malformed,
        forged or expired."""
        head, _, tail = grant.partition(".")
        try:
            payload, signature = _unb64(head), _unb64(tail)
        except (binascii.Error, ValueError) as exc:
            raise Unauthorized("the signed URL's token is malformed") from exc
        if not hmac.compare_digest(signature, self._signature(payload)):
            raise Unauthorized("the signed URL's token is not valid")
        version, collection_id, key_id, expires, name = orjson.loads(payload)
        if version != _VERSION:
            raise Unauthorized("the signed URL's token is of an unknown version")
        if expires <= (now or time.time()):
            raise Unauthorized("the signed URL has expired")
        return Principal("read", collection_id, f"signed URL of {name}", key_id, expires)


async def grant_is_current(session: AsyncSession, principal: Principal) -> bool:
    """Whether the credential behind a grant's principal still stands (its key, if it
    came from one, is not revoked)."""
    return principal.key_id is None or await key_is_active(session, principal.key_id)


async def stored_signing_secret(session: AsyncSession) -> bytes:
    """The service's signing secret, created on first use and shared through the database
    by every process and replica (so a URL signed by one is honoured by all)."""
    candidate = secrets.token_bytes(32)
    create = (
        pg_insert(ServiceSecret)
        .values(name=SIGNING_SECRET_NAME, value=candidate)
        .on_conflict_do_nothing(index_elements=[ServiceSecret.name])
    )
    query = select(ServiceSecret.value).where(ServiceSecret.name == SIGNING_SECRET_NAME)
    with translate_db_errors():
        await session.execute(create)
        return bytes((await session.execute(query)).scalar_one())

