"""API keys and bearer JWTs against a real database and real signatures."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import (
    ANONYMOUS,
    JwtSettings,
    JwtVerifier,
    Principal,
    authenticate,
    create_key,
    credential_of,
    list_keys,
    require_admin,
    require_write,
    revoke_key,
)
from catalog.errors import Forbidden, InvalidInput, NotFound, Unauthorized, UnknownCollection
from catalog.ingest.collections import upsert_collection

Sessions = async_sessionmaker[AsyncSession]


def collection(collection_id: str) -> dict[str, Any]:
    return {
        "type": "Collection", "stac_version": "1.1.0", "id": collection_id,
        "description": "d", "license": "MIT", "links": [],
        "extent": {"spatial": {"bbox": [[-1, -1, 1, 1]]},
                   "temporal": {"interval": [[None, None]]}},
    }


async def test_a_key_authenticates_until_revoked(scratch_sessions: Sessions) -> None:
    async with scratch_sessions() as session, session.begin():
        record, token = await create_key(session, "ci", "write")
    async with scratch_sessions() as session:
        principal = await authenticate(session, token)
    assert principal == Principal("write", None, "key 'ci'", key_id=str(record.id))
    async with scratch_sessions() as session, session.begin():
        (revoked,) = await revoke_key(session, "ci")
    assert revoked.id == record.id
    async with scratch_sessions() as session:
        with pytest.raises(Unauthorized, match="revoked"):
            await authenticate(session, token)
        with pytest.raises(NotFound):
            await revoke_key(session, "ci")


async def test_only_a_salted_hash_is_stored(scratch_sessions: Sessions) -> None:
    async with scratch_sessions() as session, session.begin():
        _, first = await create_key(session, "a", "read")
        _, second = await create_key(session, "b", "read")
    async with scratch_sessions() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).mappings().all()
    stored = json.dumps([{k: str(v) for k, v in row.items()} for row in rows])
    for token in (first, second):
        # The secret is URL-safe base64 and may itself hold "_": split from the left.
        secret = token.split("_", 2)[2]
        assert len(secret) == 43
        assert secret not in stored
    assert rows[0]["salt"] != rows[1]["salt"]


async def test_wrong_and_malformed_keys_are_refused(scratch_sessions: Sessions) -> None:
    async with scratch_sessions() as session, session.begin():
        _, token = await create_key(session, "k", "read")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    async with scratch_sessions() as session:
        for bad in (tampered, "sqk_nothing", "sqk_" + "0" * 12 + "_" + "x" * 43):
            with pytest.raises(Unauthorized):
                await authenticate(session, bad)
        assert await authenticate(session, None) == ANONYMOUS


async def test_keys_for_one_collection(scratch_sessions: Sessions) -> None:
    async with scratch_sessions() as session, session.begin():
        await upsert_collection(session, collection("mine"))
        await upsert_collection(session, collection("theirs"))
        _, token = await create_key(session, "scoped", "write", "mine")
        with pytest.raises(UnknownCollection):
            await create_key(session, "bad", "read", "nope")
        with pytest.raises(InvalidInput):
            await create_key(session, "bad", "superuser")
    async with scratch_sessions() as session:
        principal = await authenticate(session, token)
        keys = await list_keys(session)
    require_write(principal, "mine")
    with pytest.raises(Forbidden):
        require_write(principal, "theirs")
    with pytest.raises(Forbidden):
        require_admin(principal)
    assert principal.readable_private == frozenset({"mine"})
    assert [k.collection_id for k in keys] == ["mine"]


def test_anonymous_may_not_write_and_read_may_not_write() -> None:
    with pytest.raises(Unauthorized):
        require_write(ANONYMOUS, "x")
    with pytest.raises(Forbidden):
        require_write(Principal("read"), "x")
    require_admin(Principal("admin"))


def test_credentials_from_headers() -> None:
    assert credential_of("Bearer abc", None) == "abc"
    assert credential_of(None, "sqk_x") == "sqk_x"
    assert credential_of(None, None) is None
    with pytest.raises(Unauthorized):
        credential_of("Basic dXNlcjpwYXNz", None)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """An RSA signing key and the JWKS file publishing its public half."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    return private, path


def sign(private: Any, kid: str = "k1", **claims: Any) -> str:
    payload = {"sub": "alice", "aud": "stacql", "iss": "https://idp.test",
               "exp": int(time.time()) + 300, **claims}
    return jwt.encode(payload, private, algorithm="RS256", headers={"kid": kid})


async def test_jwts_map_to_scopes(issuer: tuple[Any, Path], scratch_sessions: Sessions) -> None:
    private, jwks = issuer
    verifier = JwtVerifier(JwtSettings(str(jwks), audience="stacql", issuer="https://idp.test"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with scratch_sessions() as session:
        good = await authenticate(session, sign(private, scope="openid stacql:write"), verifier)
        assert (good.scope, good.collection_id) == ("write", None)
        one = await authenticate(
            session, sign(private, scope=["stacql:read"], **{"stacql:collection": "c"}), verifier
        )
        assert (one.scope, one.collection_id) == ("read", "c")
        bad_tokens = {
            "expired": sign(private, scope="stacql:read", exp=int(time.time()) - 10),
            "audience": sign(private, scope="stacql:read", aud="other"),
            "issuer": sign(private, scope="stacql:read", iss="https://evil.test"),
            "signature": sign(other, scope="stacql:admin"),
            "no scope": sign(private, scope="openid profile"),
            "garbage": "a.b.c",
        }
        for reason, token in bad_tokens.items():
            with pytest.raises(Unauthorized):
                await authenticate(session, token, verifier)
                pytest.fail(f"accepted a token with a bad {reason}")
        with pytest.raises(Unauthorized, match="no JWKS"):
            await authenticate(session, sign(private, scope="stacql:read"))


def test_fetch_policy_refuses_local_and_private_places() -> None:
    from catalog.access import FetchPolicy

    names = {"public.example": ["93.184.216.34"], "sneaky.example": ["93.184.216.34", "10.0.0.5"],
             "localhost": ["127.0.0.1", "::1"]}
    policy = FetchPolicy(resolver=lambda host: names[host])
    assert policy.check("https://public.example/catalog.json") == (
        "https://public.example/catalog.json"
    )
    refused = [
        "file:///etc/passwd", "/vsicurl/http://x", "ftp://public.example/x",
        "http://localhost:8080/", "http://127.0.0.1/", "http://[::1]/", "http://169.254.169.254/",
        "https://sneaky.example/c.json", "http://10.1.2.3/", "http://192.168.0.1/",
    ]
    for url in refused:
        with pytest.raises((Forbidden, InvalidInput)):
            policy.check(url)
            pytest.fail(f"allowed {url}")
    only = FetchPolicy(allowed_hosts=("public.example",), resolver=lambda host: names[host])
    with pytest.raises(Forbidden):
        only.check("https://sneaky.example/")
    assert FetchPolicy(allow_private=True, resolver=lambda h: names[h]).check(
        "http://localhost:8080/c.json"
    )


def test_fetch_policy_reads_server_files_only_under_its_roots(tmp_path) -> None:
    from catalog.access import FetchPolicy

    root = tmp_path / "drop"
    (root / "cat").mkdir(parents=True)
    policy = FetchPolicy(local_roots=(str(root),))
    assert policy.check(f"file://{root}/cat/catalog.json") == str(root / "cat/catalog.json")
    assert policy.check(f"{root}/cat/catalog.json") == str(root / "cat/catalog.json")
    for outside in (f"{root}/../secret.json", "/etc/passwd", "file:///etc/passwd"):
        with pytest.raises(Forbidden):
            policy.check(outside)
    with pytest.raises(Forbidden):
        FetchPolicy().check(f"{root}/cat/catalog.json")
