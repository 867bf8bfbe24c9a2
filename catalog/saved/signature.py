"""Webhook signatures: ``X-Stacql-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 under the saved search's secret of ``"<t>." + body``, as Stripe signs its
events: a receiver recomputes it, compares in constant time and refuses old timestamps
(replays)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Stacql-Signature"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh webhook secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value of ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
