"""The database goes away under a running ``stacql serve`` and comes back.

To disturb nothing else on the server, the outage is made on this test's own database:
new connections are refused (``ALLOW_CONNECTIONS false``) and every open one is killed,
which is what the service sees of a PostgreSQL restart. Requests must fail with 503 (STAC)
or ``SERVICE_UNAVAILABLE`` (GraphQL), never hang or 500, and work again once the database
is back, without restarting stacql.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.databases import ADMIN_URL, create_migrated_database, drop_database
from tests.support.live_server import live_server


@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    url = create_migrated_database("outage")
    yield url
    drop_database(url)


def set_outage(database_url: str, down: bool) -> None:
    """Refuse (or allow again) connections to the database and kill the open ones."""
    name = make_url(database_url).database
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not down).lower()}'))
        if down:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name},
            )
    engine.dispose()


def test_requests_fail_with_503_during_an_outage_and_recover(own_database: str) -> None:
    with live_server(own_database) as base, httpx.Client(base_url=base, timeout=20) as client:
        assert client.get("search").status_code == 200
        set_outage(own_database, down=True)
        try:
            for _ in range(3):
                started = time.monotonic()
                response = client.get("search", params={"limit": 1})
                assert response.status_code == 503, response.text
                assert response.json()["code"] == "DATABASE_UNAVAILABLE"
                assert time.monotonic() - started < 10
            graphql = client.post("graphql", json={"query": "{ items { nodes { id } } }"})
            assert graphql.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        finally:
            set_outage(own_database, down=False)
        deadline = time.monotonic() + 15
        while client.get("search").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.5)
        assert client.post("graphql", json={"query": "{ items { nodes { id } } }"}).json() == {
            "data": {"items": {"nodes": []}}
        }
