"""Bearer JWTs from an OIDC issuer, mapped to the same scopes as API keys.

The signing keys come from a JWKS file or URL; signature, expiry, audience and (when
configured) issuer are checked. The scope is the highest of ``stacql:read``,
``stacql:write`` and ``stacql:admin`` found in the ``scope`` claim (a space-separated
string, as OAuth 2 writes it, or a list); ``stacql:collection`` limits it to one
collection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from catalog.access.principal import SCOPES, Principal
from catalog.errors import Unauthorized

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]
COLLECTION_CLAIM = "stacql:collection"


@dataclass(frozen=True)
class JwtSettings:
    """Where the issuer's keys are and what a token must say."""

    jwks: str
    audience: str
    issuer: str | None = None


def _scopes(claims: dict[str, Any]) -> list[str]:
    value = claims.get("scope", claims.get("scp", ""))
    words = value.split() if isinstance(value, str) else list(value or [])
    return [w.removeprefix("stacql:") for w in words if isinstance(w, str) and
            w.startswith("stacql:") and w.removeprefix("stacql:") in SCOPES]


class JwtVerifier:
    """Verifies bearer tokens against the issuer's JWKS."""

    def __init__(self, settings: JwtSettings) -> None:
        self.settings = settings
        if settings.jwks.startswith(("https://", "http://")):
            self._client: jwt.PyJWKClient | None = jwt.PyJWKClient(settings.jwks, lifespan=300)
            self._keys: jwt.PyJWKSet | None = None
        else:
            self._client = None
            self._keys = jwt.PyJWKSet.from_dict(json.loads(Path(settings.jwks).read_text()))

    def _signing_key(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        assert self._keys is not None
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise Unauthorized("the token was signed with an unknown key")

    def principal(self, token: str) -> Principal:
        """The caller a valid token stands for; ``Unauthorized`` for any invalid token."""
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=ALGORITHMS,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise Unauthorized(f"the token is not valid: {exc}") from exc
        scopes = _scopes(claims)
        if not scopes:
            raise Unauthorized("the token grants no stacql scope")
        scope = max(scopes, key=SCOPES.index)
        collection = claims.get(COLLECTION_CLAIM)
        return Principal(
            scope, collection if isinstance(collection, str) else None,
            f"token of {claims.get('sub', 'unknown')!r}",
            expires_at=float(claims["exp"]),
            subject=claims["sub"] if isinstance(claims.get("sub"), str) else None,
        )
