"""Access control: API keys, bearer JWTs, and the principal they stand for."""

from catalog.access.keys import (
    ApiKeyRecord,
    authenticate_key,
    create_key,
    is_api_key,
    list_keys,
    revoke_key,
)
from catalog.access.principal import (
    ANONYMOUS,
    SCOPES,
    Principal,
    require_admin,
    require_write,
    require_write_anywhere,
)
from catalog.access.remote import FetchPolicy
from catalog.access.tokens import JwtSettings, JwtVerifier
from catalog.access.visibility import (
    authenticate,
    credential_of,
    private_collections,
    set_private,
)

__all__ = [
    "ANONYMOUS",
    "SCOPES",
    "ApiKeyRecord",
    "FetchPolicy",
    "JwtSettings",
    "JwtVerifier",
    "Principal",
    "authenticate",
    "authenticate_key",
    "create_key",
    "credential_of",
    "is_api_key",
    "list_keys",
    "private_collections",
    "require_admin",
    "require_write",
    "require_write_anywhere",
    "revoke_key",
    "set_private",
]
