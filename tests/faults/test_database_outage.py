"""The database goes away under a running ``stacql serve`` and comes back.

To disturb nothing else on the server, the outage is made on this test's own database:
new connections are refused (``ALLOW_CONNECTIONS false``) and every open one is killed,
which is what the service sees of a PostgreSQL restart. Requests must fail with 503 (STAC)
or ``SERVICE_UNAVAILABLE`` (GraphQL), never hang or 500, and work again once the database
is back, without restarting stacql.

A dead pooled connection can surface at checkout, while a statement runs, or when the
connection is reset on its way back to the pool; each request below (reads and writes,
anonymous and with a key, on both APIs) meets one of them, so each must answer the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.graphql_api.test_mutations import a_collection, an_item
from tests.support.databases import ADMIN_URL, create_migrated_database, drop_database
from tests.support.live_server import live_server
from tests.support.paths import REPO

GRAPHQL = {
    "items": "{ items { nodes { id } } }",
    "collections": "{ collections { nodes { id } } }",
    "item": '{ item(collectionId: "c", id: "i") { id } }',
    "aggregate": "{ aggregate { totalCount } }",
    "job": '{ job(id: "00000000-0000-0000-0000-000000000000") { id } }',
}
UPSERT = "mutation($items: [JSON!]!) { upsertItems(items: $items) { inserted updated } }"


@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    url = create_migrated_database("outage")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def admin(own_database: str) -> str:
    """An admin key made with ``stacql keys create``."""
    made = subprocess.run(
        [sys.executable, "-m", "stacql.cli", "keys", "create", "--name", "ops", "--scope",
         "admin"],
        check=True, cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "STACQL_DATABASE_URL": own_database},
    )
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def server(own_database: str, admin: str) -> Iterator[httpx.Client]:
    """One ``stacql serve`` worker on the database, holding collection ``c`` and item ``i``."""
    env = {"STACQL_API_WORKERS": "1", "STACQL_DATABASE_POOL_SIZE": "4"}
    with live_server(own_database, env=env) as base, httpx.Client(
        base_url=base, timeout=20, headers={"X-API-Key": admin}
    ) as client:
        assert client.post("collections", json=a_collection("c")).status_code == 201
        item = an_item("i", 0, "2021-01-01T00:00:00Z", 1.0, collection="c")
        assert client.post("collections/c/items", json=item).status_code == 201
        yield client


def set_outage(database_url: str, down: bool) -> None:
    """Refuse (or allow again) connections to the database and kill the open ones."""
    name = make_url(database_url).database
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not down).lower()}'))
        kill_connections(conn, name)
    engine.dispose()


def kill_connections(conn: Any, name: str) -> None:
    """Terminate every session on database ``name`` (a server restart, as clients see it)."""
    conn.execute(
        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE datname = :name AND pid <> pg_backend_pid()"),
        {"name": name},
    )


def kill_pooled_connections(database_url: str) -> None:
    """Kill the service's connections; the database itself stays up."""
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        kill_connections(conn, make_url(database_url).database)
    engine.dispose()


def every_request(client: httpx.Client, anonymous: bool) -> Iterator[tuple[str, httpx.Response]]:
    """(name, response) of reads and writes on both APIs, anonymous or with the admin key."""
    headers = {"X-API-Key": ""} if anonymous else {}
    gets = ["search", "collections", "collections/c", "collections/c/items",
            "collections/c/items/i", "queryables", "aggregate?aggregations=total_count"]
    for path in gets:
        yield f"GET {path}", client.get(path, headers=headers)
    yield "POST search", client.post("search", json={"limit": 1}, headers=headers)
    for name, query in GRAPHQL.items():
        yield f"graphql {name}", client.post("graphql", json={"query": query}, headers=headers)
    if not anonymous:
        item = an_item("i", 0, "2021-01-01T00:00:00Z", 2.0, collection="c")
        yield "PUT item", client.put("collections/c/items/i", json=item)
        yield "graphql upsertItems", client.post(
            "graphql", json={"query": UPSERT, "variables": {"items": [item]}}
        )


def outcome(name: str, response: httpx.Response) -> str:
    """"ok", "unavailable" (503 / SERVICE_UNAVAILABLE), or what else it was."""
    if name.startswith("graphql"):
        errors = response.json().get("errors") if response.status_code == 200 else None
        if not errors:
            return "ok" if response.status_code == 200 else f"HTTP {response.status_code}"
        extensions = errors[0].get("extensions", {})
        if (extensions.get("code"), extensions.get("reason")) == (
            "SERVICE_UNAVAILABLE", "DATABASE_UNAVAILABLE"
        ):
            return "unavailable"
        return f"{extensions.get('code')}: {errors[0]['message']}"
    if response.status_code < 300:
        return "ok"
    if response.status_code == 503 and response.json()["code"] == "DATABASE_UNAVAILABLE":
        return "unavailable"
    return f"HTTP {response.status_code}: {response.text[:200]}"


def warm_pool(client: httpx.Client) -> None:
    """Open several pooled connections at once, so that several die together."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.get("search", params={"limit": 1}), range(16)))


def wait_for_recovery(client: httpx.Client) -> None:
    deadline = time.monotonic() + 15
    while client.get("search").status_code != 200:
        assert time.monotonic() < deadline, "the service did not recover"
        time.sleep(0.5)


@pytest.mark.parametrize("anonymous", [True, False], ids=["anonymous", "with-key"])
def test_every_request_answers_503_during_an_outage_and_recovers(
    server: httpx.Client, own_database: str, anonymous: bool
) -> None:
    warm_pool(server)
    set_outage(own_database, down=True)
    try:
        for name, response in every_request(server, anonymous):
            assert outcome(name, response) == "unavailable", (name, response.text[:300])
    finally:
        set_outage(own_database, down=False)
    wait_for_recovery(server)
    assert all(outcome(n, r) == "ok" for n, r in every_request(server, anonymous))


@pytest.mark.parametrize("anonymous", [True, False], ids=["anonymous", "with-key"])
def test_dead_pooled_connections_answer_503_then_are_replaced(
    server: httpx.Client, own_database: str, anonymous: bool
) -> None:
    for _ in range(3):
        warm_pool(server)
        kill_pooled_connections(own_database)
        seen = [outcome(n, r) for n, r in every_request(server, anonymous)]
        assert set(seen) <= {"ok", "unavailable"}, seen
    # Every dead connection has been found and dropped by now.
    seen = [outcome(n, r) for n, r in every_request(server, anonymous)]
    assert set(seen) == {"ok"}, seen
