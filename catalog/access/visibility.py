"""Credentials to principal, and which collections are private."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.access.keys import authenticate_key, is_api_key
from catalog.access.principal import ANONYMOUS, Principal
from catalog.access.tokens import JwtVerifier
from catalog.db.errors import translate_db_errors
from catalog.db.models import Collection
from catalog.errors import Unauthorized, UnknownCollection


def credential_of(authorization: str | None, api_key: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` value or of an ``X-API-Key`` value.

    Both may be sent only when they carry the same token: otherwise one of them would be
    silently ignored (a revoked bearer token passing on a valid key), so ``Unauthorized``.
    """
    key = api_key.strip() if api_key else None
    if not authorization:
        return key
    kind, _, token = authorization.strip().partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>' or 'X-API-Key: <key>'")
    if key and token.strip() != key:
        raise Unauthorized("Authorization and X-API-Key carry different credentials: send one")
    return token.strip()


async def authenticate(
    session: AsyncSession, token: str | None, verifier: JwtVerifier | None = None
) -> Principal:
    """The caller a token stands for (anonymous without one); ``Unauthorized`` for a bad
    token — a wrong key never silently falls back to anonymous."""
    if not token:
        return ANONYMOUS
    if is_api_key(token):
        return await authenticate_key(session, token)
    if verifier is None:
        raise Unauthorized("bearer tokens are not accepted here: no JWKS is configured")
    return verifier.principal(token)


async def set_private(session: AsyncSession, collection_id: str, private: bool) -> None:
    """Mark a collection private (visible only with a key that may read it) or public."""
    query = (
        update(Collection).where(Collection.id == collection_id).values(private=private)
        .returning(Collection.id)
    )
    with translate_db_errors():
        if (await session.execute(query)).scalar_one_or_none() is None:
            raise UnknownCollection(f"no collection {collection_id!r}")


async def private_collections(session: AsyncSession) -> frozenset[str]:
    """The ids of every private collection."""
    with translate_db_errors():
        rows = await session.scalars(select(Collection.id).where(Collection.private))
    return frozenset(rows)
