"""Bearer JWTs for tests, signed by a throw-away RSA key published in a JWKS file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def make_signer(folder: Path) -> tuple[Any, Path]:
    """An issuer's private RSA key and the JWKS file (kid ``k1``) with its public half."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    path = folder / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": "k1"}]}))
    return private, path


def bearer(private: Any, scope: str, expires_in: int = 300, **claims: Any) -> str:
    """An ``Authorization`` value: a token for audience ``stacql`` with ``scope``."""
    token = jwt.encode(
        {"sub": "bob", "aud": "stacql", "exp": int(time.time()) + expires_in, "scope": scope,
         **claims},
        private, algorithm="RS256", headers={"kid": "k1"},
    )
    return f"Bearer {token}"
