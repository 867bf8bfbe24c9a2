"""Bodies under /graphql are bounded at the door: tighter without credentials, since
anonymous callers may only read (issue 16: 48 MB of mutation variables cost 73 s and
1.3 GB of a worker before the mutation refused its anonymous caller)."""

from __future__ import annotations

from pathlib import Path

import orjson

from stac_compat.middleware import SEARCH_MAX_BODY
from tests.graphql_api.conftest import app_settings
from tests.support.access import admin_key
from tests.support.app_client import app_client

MUTATION = ('mutation($items: [JSON!]!) { upsertItems(collectionId: "c", items: $items) '
            "{ __typename } }")


def _variables(size: int) -> bytes:
    """A body of about ``size`` bytes: the mutation and a long list of numbers."""
    return orjson.dumps({"query": MUTATION, "variables": {"items": [0.5] * (size // 4)}})


async def test_an_anonymous_body_past_the_read_bound_is_refused_unread(
    scratch_url: str, scratch_sessions, tmp_path: Path
) -> None:
    body = _variables(SEARCH_MAX_BODY + 1024)
    async with app_client(app_settings(scratch_url, tmp_path)) as (_, client):
        response = await client.post("/graphql", content=body,
                                     headers={"content-type": "application/json"})
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "without credentials" in error["message"]


async def test_a_caller_with_credentials_gets_the_whole_bound(
    scratch_url: str, scratch_sessions, tmp_path: Path
) -> None:
    body = {"query": "{ __typename }", "pad": "x" * (SEARCH_MAX_BODY + 1024)}
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    async with app_client(app_settings(scratch_url, tmp_path), headers) as (_, client):
        response = await client.post("/graphql", json=body)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_variables_past_the_value_bound_are_refused_before_coercion(
    scratch_url: str, scratch_sessions, tmp_path: Path
) -> None:
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    many = orjson.dumps({"query": MUTATION, "variables": {"items": [0] * 300_000}})
    few = orjson.dumps({"query": MUTATION, "variables": {"items": [0] * 1_000}})
    async with app_client(app_settings(scratch_url, tmp_path), headers) as (_, client):
        refused = await client.post("/graphql", content=many,
                                    headers={"content-type": "application/json"})
        admitted = await client.post("/graphql", content=few,
                                     headers={"content-type": "application/json"})
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "VARIABLES_TOO_LARGE"
    assert "250,000" in error["message"]
    # Under the bound the request reaches the schema, which judges the values itself.
    codes = {e["extensions"]["code"] for e in admitted.json().get("errors", [])}
    assert "VARIABLES_TOO_LARGE" not in codes
