"""Page statements kept by shape (``catalog.search.engine.page_query``): requests of one
shape share one statement, and each runs with its own values.

A statement is built once per shape and column list and run with each request's values
as parameters, so a value left in a kept statement, or a value given to the wrong
parameter, would answer one request with another's matches. Series of requests of one
shape, run one after the other, are checked against the independent reference.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db.driver import driver_statement
from catalog.search import build_search, search
from catalog.search.engine import KEPT_FILTER_BYTES, page_query
from catalog.search.render import item_text_parts
from catalog.search.time_spans import TimeSpans
from tests.support.reference import Reference

ALL = 5_000
MAX_ROUNDS = 200  # more pages than either walk has: a cursor going nowhere fails


def _statement(spans: TimeSpans | None = None, **params: Any) -> Any:
    return page_query(build_search(**params), item_text_parts(), spans).statement


def test_requests_of_one_shape_share_a_statement() -> None:
    a = _statement(bbox=[-100, 30, -98, 32], datetime="2020-01-01T00:00:00Z/2020-02-01T00:00:00Z")
    b = _statement(bbox=[10, -5, 12, 1], datetime="2011-06-01T00:00:00Z/2011-07-09T00:00:00Z")
    assert a is b


@pytest.mark.parametrize(
    "other",
    [
        {"bbox": [170, 30, -170, 32]},  # split at the antimeridian: two boxes
        {"bbox": [-100, 30, -98, 32], "datetime": "../2020-01-01T00:00:00Z"},
        {"bbox": [-100, 30, -98, 32], "collections": ["a", "b"]},
        {"bbox": [-100, 30, -98, 32], "sortby": "id"},
        {"intersects": {"type": "Point", "coordinates": [1, 2]}},
        {"bbox": [-100, 30, -98, 32], "filter": "gsd < 1"},
        {"bbox": [-100, 30, -98, 32], "filter": "gsd < 2"},
    ],
)
def test_other_shapes_have_statements_of_their_own(other: dict[str, Any]) -> None:
    assert _statement(**other) is not _statement(bbox=[-100, 30, -98, 32])


def test_the_time_spans_are_part_of_the_shape() -> None:
    window = {"datetime": "2020-01-01T00:00:00Z/2020-02-01T00:00:00Z"}
    instants = TimeSpans(*[_days(0)] * 2)
    ranges = TimeSpans(_days(400), _days(0))
    assert _statement(instants, **window) is not _statement(ranges, **window)
    assert _statement(None, **window) is not _statement(instants, **window)


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _random_searches(seed: int, n: int) -> list[dict[str, Any]]:
    """bbox+datetime searches around where most shared items are (86-89° W, 30-31° N)."""
    rng = random.Random(seed)
    searches = []
    for _ in range(n):
        west, south = rng.uniform(-90, -85), rng.uniform(29, 32)
        box = [west, south, west + rng.uniform(0.1, 3), south + rng.uniform(0.1, 2)]
        start = rng.randint(2009, 2023)
        window = f"{start}-01-01T00:00:00Z/{start + rng.randint(2, 6)}-12-31T23:59:59Z"
        searches.append({"bbox": box, "datetime": window})
    return searches


async def test_one_shape_in_a_row_answers_each_request(
    loaded_sessions: async_sessionmaker[AsyncSession], reference: Reference
) -> None:
    """Forty bbox+datetime searches of one shape, one after the other: each page is the
    reference's, and their statement is one."""
    searches = _random_searches(seed=7, n=40)
    statements = {id(_statement(**params)) for params in searches}
    assert len(statements) == 1
    answered = 0
    async with loaded_sessions() as session:
        for params in searches:
            page = await search(session, build_search(**params, limit=ALL))
            found = [(doc["collection"], doc["id"]) for doc in page.items]
            assert found == reference.search(**params), params
            answered += bool(found)
    assert answered >= 10, "the searches should find something"


async def test_pages_of_one_shape_in_a_row_follow_their_own_cursors(
    loaded_sessions: async_sessionmaker[AsyncSession], reference: Reference
) -> None:
    """Two searches paged in turns (next pages share one statement): each walk gives its
    own reference order, so no cursor value or limit crosses from one to the other."""
    walks = [
        {"bbox": [-180, -90, 180, 90], "datetime": "2011-01-01T00:00:00Z/2016-12-31T00:00:00Z"},
        {"bbox": [-100, 20, -80, 50], "datetime": "2017-01-01T00:00:00Z/2023-12-31T00:00:00Z",
         "sortby": "-datetime"},
    ]
    expected = [reference.search(**params) for params in walks]
    found: list[list[Any]] = [[], []]
    tokens: list[str | None] = [None, None]
    done = [False, False]
    async with loaded_sessions() as session:
        for _ in range(MAX_ROUNDS):
            if all(done):
                break
            for i, params in enumerate(walks):
                if done[i]:
                    continue
                limit = 7 + 4 * i
                page = await search(session, build_search(**params, limit=limit, token=tokens[i]))
                found[i] += [(doc["collection"], doc["id"]) for doc in page.items]
                tokens[i] = page.next_token
                done[i] = page.next_token is None
    assert found == expected
    assert all(len(keys) > 20 for keys in expected)


def test_statements_of_long_filters_are_not_kept() -> None:
    """A kept statement holds its filter's whole expression tree: past
    ``KEPT_FILTER_BYTES`` of filter text each request builds its own."""
    def in_list(n: int) -> dict[str, Any]:
        return {"op": "in", "args": [{"property": "id"}, [f"item-{i:05d}" for i in range(n)]]}

    long, short = in_list(300), in_list(3)
    assert len(orjson.dumps(long)) > KEPT_FILTER_BYTES > len(orjson.dumps(short))
    assert _statement(filter=long) is not _statement(filter=long)
    assert _statement(filter=short) is _statement(filter=short)


GENERIC_CASES = {
    "filter": lambda i: {"filter": {"op": "<=", "args": [{"property": "gsd"}, 0.3 + i / 10]}},
    "sortby": lambda i: {"datetime": f"../{2012 + i % 8}-01-01T00:00:00Z", "sortby": "-datetime"},
}


@pytest.mark.parametrize("case", GENERIC_CASES)
async def test_a_kept_statement_gets_a_generic_plan(
    loaded_sessions: async_sessionmaker[AsyncSession], case: str
) -> None:
    """Its limit is in its SQL: PostgreSQL's generic plan of the prepared statement knows
    it and replaces the custom plans after the first five executions, so later pages are
    not planned again (with the limit a parameter, each execution was planned anew)."""
    async with loaded_sessions() as session:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        statements = set()
        prepared = None
        for i in range(8):
            query = page_query(build_search(**GENERIC_CASES[case](i)), item_text_parts())
            sent = driver_statement(query.statement, connection.dialect)
            assert sent is not None
            statements.add(sent.sql)
            prepared = prepared or await driver.prepare(sent.sql)
            await prepared.fetch(*sent.arguments(query.values))
        assert len(statements) == 1 and prepared is not None
        plans = await driver.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1",
            prepared.get_name(),
        )
    assert plans["generic_plans"] >= 3, dict(plans)
