"""Asset operations both APIs call: public hrefs for a caller, and an asset's bytes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access.principal import Principal
from catalog.access.signing import AssetSigner, stored_signing_secret
from catalog.assets import AssetUrls, Delivery, deliver, locate_asset
from catalog.storage import AssetStore


class AssetOperations:
    """Access to stored assets under the catalog's rules.

    ``url_ttl`` bounds signed grants and presigned object-store URLs. ``secret`` signs
    grants; without one, a secret kept in the database (made on first use) is shared by
    every process. ``sign_object_urls`` sends clients to presigned object-store URLs
    instead of streaming the bytes through the API. ``read_sessions``, when given, serve
    the lookups (autocommit sessions spare a BEGIN and ROLLBACK per request).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: AssetStore,
        *,
        url_ttl: timedelta = timedelta(hours=1),
        secret: bytes | None = None,
        sign_object_urls: bool = True,
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.sessions = sessions
        self.read_sessions = read_sessions or sessions
        self.store = store
        self.url_ttl = url_ttl
        self.sign_object_urls = sign_object_urls
        self._signer = (
            AssetSigner(secret, int(url_ttl.total_seconds())) if secret is not None else None
        )
        self._lock = asyncio.Lock()

    async def signer(self) -> AssetSigner:
        """The grant signer, its secret read from the database on first use."""
        if self._signer is None:
            async with self._lock:
                if self._signer is None:
                    async with self.sessions() as session, session.begin():
                        secret = await stored_signing_secret(session)
                    self._signer = AssetSigner(secret, int(self.url_ttl.total_seconds()))
        return self._signer

    async def urls(self, base_url: str, principal: Principal) -> AssetUrls:
        """The href rewriter of one response to ``principal``: hrefs carry a signed grant
        when the caller has credentials (so clients without headers can follow them)."""
        grant = None if principal.is_anonymous else (await self.signer()).grant(principal)
        return AssetUrls(self.store, base_url, grant)

    async def caller(self, principal: Principal, grant: str | None) -> Principal:
        """Who reads: the caller of the request's headers, or else the one a signed grant
        (from the URL) stands for; ``Unauthorized`` for a bad or expired grant."""
        if grant is None or not principal.is_anonymous:
            return principal
        return (await self.signer()).principal(grant)

    async def open(
        self, principal: Principal, collection_id: str, item_id: str, key: str
    ) -> Delivery:
        """How to send the bytes of an item's asset to ``principal`` (see
        ``catalog.assets.locate_asset`` for the errors raised)."""
        async with self.read_sessions() as session:
            asset = await locate_asset(
                session, self.store, principal, collection_id, item_id, key
            )
        return await deliver(
            self.store, asset, sign_urls=self.sign_object_urls, expires_in=self.url_ttl
        )
