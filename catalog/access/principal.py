"""Who is asking, and what they may do: scopes ``read`` < ``write`` < ``admin``, on every
collection or on one.

Reads of public collections need nothing. A private collection, its items and assets
are visible only to a principal that may read it; every write needs ``write`` on the
collection written; key management needs ``admin`` on everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.errors import Forbidden, InvalidInput, Unauthorized

SCOPES = ("read", "write", "admin")


def check_scope(scope: str) -> str:
    """``scope`` if it is one of ``SCOPES``; ``InvalidInput`` otherwise."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    return scope


@dataclass(frozen=True)
class Principal:
    """The caller: a scope (None when anonymous) and the one collection it is limited to.

    ``key_id`` names the API key it came from (so a revoked key's signed URLs stop),
    ``subject`` the ``sub`` of the bearer token it came from, and ``expires_at`` (seconds
    since the epoch) the end of the credential's life, when known.
    """

    scope: str | None = None
    collection_id: str | None = None
    name: str = "anonymous"
    key_id: str | None = None
    expires_at: float | None = None
    subject: str | None = None

    @property
    def is_anonymous(self) -> bool:
        """Whether no credentials were given."""
        return self.scope is None

    def _covers(self, collection_id: str) -> bool:
        return self.collection_id is None or self.collection_id == collection_id

    def _at_least(self, scope: str) -> bool:
        return self.scope is not None and SCOPES.index(self.scope) >= SCOPES.index(scope)

    def may_read_private(self, collection_id: str) -> bool:
        """Whether the private collection ``collection_id`` is visible to the caller."""
        return self._at_least("read") and self._covers(collection_id)

    @property
    def readable_private(self) -> frozenset[str] | None:
        """The private collections the caller may read: None for all of them."""
        if self.scope is None:
            return frozenset()
        return None if self.collection_id is None else frozenset({self.collection_id})

    def may_write(self, collection_id: str) -> bool:
        """Whether the caller may write to ``collection_id`` (or create it)."""
        return self._at_least("write") and self._covers(collection_id)

    @property
    def is_admin(self) -> bool:
        """Whether the caller may manage keys (``admin`` on every collection)."""
        return self._at_least("admin") and self.collection_id is None


ANONYMOUS = Principal()


def require_write(principal: Principal, collection_id: str) -> None:
    """Raise ``Unauthorized`` (no credentials) or ``Forbidden`` unless the caller may write
    to ``collection_id``."""
    if principal.is_anonymous:
        raise Unauthorized("writing needs an API key or token with the write scope")
    if not principal.may_write(collection_id):
        raise Forbidden(f"{principal.name} may not write to collection {collection_id!r}")


def require_admin(principal: Principal) -> None:
    """Raise ``Unauthorized`` or ``Forbidden`` unless the caller is an admin."""
    if principal.is_anonymous:
        raise Unauthorized("this needs an API key or token with the admin scope")
    if not principal.is_admin:
        raise Forbidden(f"{principal.name} is not an admin")


def require_write_anywhere(principal: Principal) -> None:
    """Raise unless the caller may write to every collection (bulk ingests may touch any)."""
    if principal.is_anonymous:
        raise Unauthorized("writing needs an API key or token with the write scope")
    if principal.collection_id is not None or not principal.may_write(""):
        raise Forbidden(f"{principal.name} may not write to every collection")
