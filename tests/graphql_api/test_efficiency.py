"""A page costs a fixed number of SQL statements, and reads only the selected columns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from tests.graphql_api.conftest import GraphQL

PAGE = """query($first: Int!) { items(first: $first, collections: ["naip", "joplin",
  "pgstac-test-collection"]) {
  edges { cursor node { id datetime geometry properties
    assets { key href roles mediaType item { id } }
    collection { id title } } } } }"""


@contextmanager
def statements(gql: GraphQL) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    engine = gql.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _count_for(gql: GraphQL, first: int) -> tuple[int, int]:
    with statements(gql) as seen:
        data = await gql.data(PAGE, first=first)
    edges = data["items"]["edges"]
    assert all(e["node"]["collection"]["id"] for e in edges)
    return len(edges), len(seen)


async def test_statements_do_not_grow_with_the_page_size(gql: GraphQL) -> None:
    small_items, small_statements = await _count_for(gql, 5)
    large_items, large_statements = await _count_for(gql, 100)
    assert (small_items, large_items) == (5, 100)
    # The search, one batch of assets, one of collections, one of asset items.
    assert small_statements == large_statements <= 4


async def test_ids_and_datetimes_do_not_read_properties_or_assets(gql: GraphQL) -> None:
    with statements(gql) as seen:
        data = await gql.data("{ items(first: 50) { nodes { id datetime } } }")
    assert len(data["items"]["nodes"]) == 50
    sql = " ".join(seen).lower()
    assert "assets" not in sql
    assert "items.properties" not in sql.replace("items.properties @>", "")
    assert "st_asgeojson" not in sql


async def test_selecting_properties_reads_them(gql: GraphQL) -> None:
    with statements(gql) as seen:
        await gql.data("{ items(first: 3) { nodes { id properties } } }")
    assert "items.properties" in " ".join(seen).lower()


async def test_total_count_runs_only_when_selected(gql: GraphQL) -> None:
    with statements(gql) as without:
        await gql.data("{ items(first: 3) { nodes { id } } }")
    with statements(gql) as with_count:
        data = await gql.data("{ items(first: 3) { totalCount nodes { id } } }")
    assert not any("count(" in s.lower() for s in without)
    assert any("count(" in s.lower() for s in with_count)
    rest = (await gql.client.post("/search", json={"limit": 1, "count": True}))
    assert data["items"]["totalCount"] == rest.json()["numberMatched"]
