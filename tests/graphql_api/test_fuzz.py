"""A bounded schemathesis run against /graphql of a live ``stacql serve``.

schemathesis generates every query and mutation of the schema with random arguments
(GeoJSON from random coordinates, JSON from random values). Typed errors are the
expected answer to most of them; what must never happen is a 5xx or an
``INTERNAL_SERVER_ERROR`` (schemathesis' own GraphQL check counts every typed error as
a failure, hence this check of ours). Reads run on the loaded catalog; mutations run with
an admin key on the scratch catalog, where they can do no harm.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import graphql
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.graphql_api.conftest import admin_key
from tests.support.live_server import live_server

MAX_EXAMPLES = 15


def to_ast(value: Any) -> graphql.ValueNode:
    """A GraphQL literal for a JSON-like value."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        return graphql.FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return graphql.StringValueNode(value=value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(to_ast(v) for v in value))
    return graphql.ObjectValueNode(fields=tuple(
        graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=to_ast(v))
        for k, v in value.items()
    ))


coordinates = st.lists(st.floats(-200, 200, allow_nan=False), min_size=2, max_size=2)
geometries = st.one_of(
    st.builds(lambda c: {"type": "Point", "coordinates": c}, coordinates),
    st.builds(lambda r: {"type": "Polygon", "coordinates": [r + r[:1]]},
              st.lists(coordinates, min_size=3, max_size=6)),
    st.builds(lambda c: {"type": "LineString", "coordinates": c},
              st.lists(coordinates, min_size=0, max_size=4)),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["op", "args", "property", "x"]),
                                            inner, max_size=3)),
    max_leaves=6,
)
schemathesis.graphql.scalar("GeoJSON", geometries.map(to_ast))
schemathesis.graphql.scalar("JSON", json_values.map(to_ast))
schemathesis.graphql.scalar("Upload", st.just(graphql.NullValueNode()))


@pytest.fixture(scope="module")
def live_catalog(catalog_url: str, loaded_sessions) -> Iterator[str]:
    with live_server(catalog_url) as url:
        yield url


CALLS: list[int] = []


def check(response: Any) -> None:
    """No 5xx, and every error carries a code that is not an internal error."""
    CALLS.append(response.status_code)
    assert response.status_code < 500, response.text
    body = response.json()
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes, response.text
    assert None not in codes, response.text


def test_no_operation_gets_an_internal_error(
    live_catalog: str, live_scratch: str, scratch_url: str
) -> None:
    schema = schemathesis.graphql.from_url(f"{live_catalog}graphql")
    token = _scratch_admin(scratch_url)
    tried: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        _fuzz(operation, live_scratch, token)
        tried.append(operation.label)
    assert "Query.items" in tried and "Mutation.upsertItems" in tried
    assert len(CALLS) >= 5 * len(tried)
    print(f"graphql fuzz: {len(CALLS)} requests over {len(tried)} operations, none failed")


def _fuzz(operation: Any, live_scratch: str, token: str) -> None:
    """Run the generated cases of one operation (mutations on the scratch server)."""
    mutation = operation.label.startswith("Mutation")

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        if mutation:
            check(case.call(base_url=f"{live_scratch}graphql",
                            headers={"X-API-Key": token}, timeout=30))
        else:
            check(case.call(timeout=30))

    run()


_TOKENS: dict[str, str] = {}


def _scratch_admin(scratch_url: str) -> str:
    """One admin key on the scratch catalog for the whole run."""
    if scratch_url not in _TOKENS:
        import asyncio

        from catalog.db import create_engine, create_sessionmaker

        async def make() -> str:
            engine = create_engine(scratch_url, pool_size=1)
            try:
                return await admin_key(create_sessionmaker(engine))
            finally:
                await engine.dispose()

        _TOKENS[scratch_url] = asyncio.run(make())
    return _TOKENS[scratch_url]
