"""Automatic persisted queries as Apollo clients send them, stored in Redis for every
worker (``graphql_api.persisted``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from graphql_api.persisted import PersistedQueries, PersistedQuerySettings
from tests.graphql_api.conftest import TEST_REDIS_URL, GraphQL, app_settings
from tests.support.app_client import app_client

QUERY = "query Few($n: Int) { items(first: $n) { nodes { id } } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(digest: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def unique(query: str, tag: str) -> str:
    """``query`` made unknown to the store by a comment naming the test."""
    return f"# {tag} {id(object())}\n{query}"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


async def test_an_unknown_hash_is_not_found_then_the_query_sent_with_it_is_kept(
    gql: GraphQL, redis: Redis
) -> None:
    query = unique(QUERY, "apollo")
    extensions = persisted(sha256(query))
    first = await gql.client.post("/graphql", json={"extensions": extensions,
                                                    "variables": {"n": 2}})
    # 200, as Apollo Server answers: Apollo's link gives up on APQ after a 400 or 500.
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    [error] = first.json()["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    retry = await gql.client.post(
        "/graphql", json={"query": query, "extensions": extensions, "variables": {"n": 2}})
    assert len(retry.json()["data"]["items"]["nodes"]) == 2
    assert (await redis.get(f"stacql:apq:{sha256(query)}")).decode() == query

    again = await gql.client.post("/graphql", json={"extensions": extensions,
                                                    "variables": {"n": 3}})
    assert len(again.json()["data"]["items"]["nodes"]) == 3


async def test_another_worker_finds_the_query_one_worker_stored(
    catalog_url: str, loaded_sessions, tmp_path: Path
) -> None:
    query = unique(QUERY, "workers")
    extensions = persisted(sha256(query))
    settings = app_settings(catalog_url, tmp_path / "assets")
    async with app_client(settings) as (_, one), app_client(settings) as (_, other):
        stored = await one.post("/graphql", json={"query": query, "extensions": extensions,
                                                  "variables": {"n": 1}})
        assert "errors" not in stored.json()
        found = await other.post("/graphql", json={"extensions": extensions,
                                                   "variables": {"n": 1}})
    assert found.json()["data"] == stored.json()["data"]


async def test_a_hash_that_is_not_the_query_s_is_refused_and_not_stored(
    gql: GraphQL, redis: Redis
) -> None:
    query = unique(QUERY, "mismatch")
    wrong = sha256(query + " ")
    response = await gql.client.post(
        "/graphql", json={"query": query, "extensions": persisted(wrong)})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert await redis.get(f"stacql:apq:{wrong}") is None


@pytest.mark.parametrize("extension", [
    {"version": 2, "sha256Hash": "a" * 64},
    {"version": 1, "sha256Hash": "not a hash"},
    {"version": 1},
    "a string",
])
async def test_malformed_persisted_query_extensions_are_refused(
    gql: GraphQL, extension: object
) -> None:
    response = await gql.client.post(
        "/graphql", json={"query": "{ __typename }", "extensions": {"persistedQuery": extension}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_INVALID"


async def test_a_query_over_the_size_bound_runs_but_is_not_stored(
    gql: GraphQL, redis: Redis
) -> None:
    bound = PersistedQuerySettings().max_query_bytes
    padding = "#" + "x" * bound + "\n"
    query = padding + "{ items(first: 1) { nodes { id } } }"
    digest = sha256(query)
    response = await gql.client.post("/graphql", json={"query": query,
                                                       "extensions": persisted(digest)})
    assert len(response.json()["data"]["items"]["nodes"]) == 1
    assert await redis.get(f"stacql:apq:{digest}") is None
    missing = await gql.client.post("/graphql", json={"extensions": persisted(digest)})
    assert missing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_the_store_keeps_the_most_recently_used_within_its_bounds(redis: Redis) -> None:
    prefix = f"stacql:test-apq:{id(object())}:"
    store = PersistedQueries(redis, PersistedQuerySettings(max_entries=3, ttl_seconds=60,
                                                           local_entries=1), prefix=prefix)
    queries = [f"{{ a{i}: __typename }}" for i in range(5)]
    for query in queries[:3]:
        assert await store.resolve(query, persisted(sha256(query))) == query
    # Using the first again makes the second the least recently used.
    store.local.clear()
    assert await store.resolve(None, persisted(sha256(queries[0]))) == queries[0]
    for query in queries[3:]:
        await store.resolve(query, persisted(sha256(query)))
    kept = {key.decode().removeprefix(prefix) for key in await redis.keys(prefix + "*")}
    assert kept == {"index", sha256(queries[0]), sha256(queries[3]), sha256(queries[4])}
    assert await redis.zcard(prefix + "index") == 3
    assert 0 < await redis.ttl(prefix + sha256(queries[4])) <= 60
    await redis.delete(*(await redis.keys(prefix + "*")))


async def test_without_redis_persisted_queries_degrade_to_resending(
    catalog_url: str, loaded_sessions, tmp_path: Path
) -> None:
    settings = app_settings(catalog_url, tmp_path / "assets")
    settings = settings.model_copy(update={"redis": settings.redis.model_copy(
        update={"url": "redis://127.0.0.1:9/0"})})  # nothing listens on the discard port
    query = unique(QUERY, "no-redis")
    extensions = persisted(sha256(query))
    async with app_client(settings) as (_, client):
        missing = await client.post("/graphql", json={"extensions": extensions})
        sent = await client.post("/graphql", json={
            "query": query, "extensions": extensions, "variables": {"n": 1}})
    assert missing.status_code == 200
    assert missing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert len(sent.json()["data"]["items"]["nodes"]) == 1


async def test_a_hash_only_get_runs_the_stored_query(gql: GraphQL) -> None:
    query = unique(QUERY, "get")
    extensions = json.dumps(persisted(sha256(query)))
    params = {"extensions": extensions, "variables": json.dumps({"n": 2})}
    headers = {"accept": "application/graphql-response+json, application/json;q=0.9, */*"}
    miss = await gql.client.get("/graphql", params=params, headers=headers)
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert miss.headers["cache-control"] == "no-store"
    sent = await gql.client.get("/graphql", params={**params, "query": query}, headers=headers)
    assert "errors" not in sent.json()
    hit = await gql.client.get("/graphql", params=params, headers=headers)
    assert hit.status_code == 200
    assert hit.json() == sent.json()
    assert hit.headers["cache-control"].startswith("public")
