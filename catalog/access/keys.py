"""API keys: created with a token shown once, stored as a salted hash, revocable.

A token reads ``sqk_<lookup>_<secret>``: ``lookup`` finds the row, ``secret`` (256 random
bits) is checked against ``sha256(salt || secret)``. A slow password hash would add tens
of milliseconds to every request and buys nothing here: the secret is random, not a
password, so there is no dictionary to try.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.access.principal import Principal, check_scope
from catalog.db.errors import translate_db_errors
from catalog.db.models import ApiKey
from catalog.errors import InvalidInput, NotFound, Unauthorized
from catalog.search.lookup import get_collection

TOKEN_PREFIX = "sqk_"
_TOKEN = re.compile(r"^sqk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_COLUMNS = (ApiKey.id, ApiKey.name, ApiKey.scope, ApiKey.collection_id, ApiKey.created_at,
            ApiKey.revoked_at)


@dataclass(frozen=True)
class ApiKeyRecord:
    """What is known of a key (never its token)."""

    id: uuid.UUID
    name: str
    scope: str
    collection_id: str | None
    created_at: datetime
    revoked_at: datetime | None

    def principal(self) -> Principal:
        """The caller this key stands for."""
        return Principal(
            self.scope, self.collection_id, f"key {self.name!r}", key_id=str(self.id)
        )


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


def is_api_key(token: str) -> bool:
    """Whether ``token`` has the shape of a stacql API key (else it may be a JWT)."""
    return token.startswith(TOKEN_PREFIX)


async def create_key(
    session: AsyncSession, name: str, scope: str, collection_id: str | None = None
) -> tuple[ApiKeyRecord, str]:
    """Store a new key; returns it and its token, which is not kept anywhere."""
    if not name.strip():
        raise InvalidInput("a key needs a name")
    check_scope(scope)
    if collection_id is not None:
        await get_collection(session, collection_id)
    lookup, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_bytes(16)
    values = {
        "id": uuid.uuid4(), "name": name, "scope": scope, "collection_id": collection_id,
        "lookup": lookup, "salt": salt, "digest": _digest(salt, secret),
    }
    with translate_db_errors():
        row = (await session.execute(insert(ApiKey).values(values).returning(*_COLUMNS))).one()
    return ApiKeyRecord(*row), f"{TOKEN_PREFIX}{lookup}_{secret}"


async def list_keys(session: AsyncSession) -> list[ApiKeyRecord]:
    """Every key, oldest first."""
    with translate_db_errors():
        rows = await session.execute(select(*_COLUMNS).order_by(ApiKey.created_at, ApiKey.name))
    return [ApiKeyRecord(*row) for row in rows]


async def revoke_key(session: AsyncSession, key: str) -> list[ApiKeyRecord]:
    """Revoke the key with that id or name (every key of that name); ``NotFound`` if none."""
    condition = ApiKey.name == key
    with contextlib.suppress(ValueError):
        condition = or_(condition, ApiKey.id == uuid.UUID(key))
    query = (
        update(ApiKey)
        .where(condition, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(*_COLUMNS)
    )
    with translate_db_errors():
        rows = (await session.execute(query)).all()
    if not rows:
        raise NotFound(f"no active key {key!r}")
    return [ApiKeyRecord(*row) for row in rows]


async def key_is_active(session: AsyncSession, key_id: str) -> bool:
    """Whether the key with id ``key_id`` exists and is not revoked."""
    try:
        wanted = uuid.UUID(key_id)
    except ValueError:
        return False
    query = select(ApiKey.revoked_at).where(ApiKey.id == wanted)
    with translate_db_errors():
        row = (await session.execute(query)).one_or_none()
    return row is not None and row.revoked_at is None


async def authenticate_key(session: AsyncSession, token: str) -> Principal:
    """The principal of an API key token; ``Unauthorized`` if malformed, unknown or revoked."""
    match = _TOKEN.match(token)
    if match is None:
        raise Unauthorized("the API key is malformed")
    lookup, secret = match.groups()
    query = select(*_COLUMNS, ApiKey.salt, ApiKey.digest).where(ApiKey.lookup == lookup)
    with translate_db_errors():
        row = (await session.execute(query)).one_or_none()
    if row is None or not hmac.compare_digest(_digest(row.salt, secret), row.digest):
        raise Unauthorized("the API key is not valid")
    record = ApiKeyRecord(*row[: len(_COLUMNS)])  # type: ignore[arg-type]
    if record.revoked_at is not None:
        raise Unauthorized("the API key has been revoked")
    return record.principal()
