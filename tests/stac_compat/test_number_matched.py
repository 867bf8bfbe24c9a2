"""``numberMatched`` without ``count=true``: exact within the count budget, else left out."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from sqlalchemy import event

from catalog.search import build_search, count_matches
from catalog.search import count as search_count
from catalog.search import engine as search_engine
from catalog.search import where as search_where
from stacql.settings import ApiSettings, DatabaseSettings, Settings
from tests.support.app_client import app_client


@pytest.fixture
async def counting_client(catalog_url: str, loaded_sessions):
    """A client on the loaded catalog whose count budget a loaded machine does not pass
    (the default 25 ms is for production; these tests check the count, not the clock)."""
    settings = Settings(
        database=DatabaseSettings(url=catalog_url), api=ApiSettings(count_budget_ms=5000)
    )
    async with app_client(settings) as (_, client):
        yield client


async def _matched(loaded_sessions, **params) -> int:
    async with loaded_sessions() as session:
        return await count_matches(session, build_search(**params))


@pytest.mark.parametrize(
    ("method", "path", "body", "params"),
    [
        ("GET", "/search?limit=1", None, {}),
        ("GET", "/search?limit=1&collections=naip&filter=gsd<1", None,
         {"collections": ["naip"], "filter": "gsd<1"}),
        ("POST", "/search", {"limit": 1, "collections": ["joplin"]}, {"collections": ["joplin"]}),
        ("GET", "/collections/naip/items?limit=2", None, {"collections": ["naip"]}),
        ("GET", "/search?limit=3&fields=id", None, {}),
    ],
    ids=["get-everything", "get-filtered", "post", "item-list", "with-fields"],
)
async def test_number_matched_is_given_without_asking(
    counting_client, loaded_sessions, method, path, body, params
) -> None:
    response = await counting_client.request(method, path, json=body)
    page = response.json()
    assert response.status_code == 200
    assert page["numberMatched"] == await _matched(loaded_sessions, **params)
    assert page["numberMatched"] > page["numberReturned"]


async def test_number_matched_is_on_the_first_page_only(counting_client, loaded_sessions) -> None:
    first = (await counting_client.get("/search?limit=5&collections=naip")).json()
    next_href = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = (await counting_client.get(next_href)).json()
    asked = (await counting_client.get(next_href + "&count=true")).json()
    expected = await _matched(loaded_sessions, collections=["naip"])
    assert first["numberMatched"] == asked["numberMatched"] == expected
    assert "numberMatched" not in second  # a client paging on has it from the first page


async def test_number_matched_is_left_out_past_the_row_cap(catalog_url, loaded_sessions) -> None:
    settings = Settings(
        database=DatabaseSettings(url=catalog_url),
        api=ApiSettings(count_budget_ms=5000, count_max_rows=29),
    )
    async with app_client(settings) as (_, client):
        many = (await client.get("/search?collections=joplin&limit=1")).json()
        asked = (await client.get("/search?collections=joplin&limit=1&count=true")).json()
        # Few matches in a partition smaller than the cap (reading all of joplin's 30
        # items to find a few would pass it).
        few = (await client.get("/search?collections=HLSL30.v1.5&limit=1")).json()
    assert "numberMatched" not in many
    assert asked["numberMatched"] == await _matched(loaded_sessions, collections=["joplin"])
    assert 1 < few["numberMatched"] <= 29
    assert few["numberMatched"] == await _matched(loaded_sessions, collections=["HLSL30.v1.5"])


async def test_by_default_only_a_lone_page_or_count_true_gives_number_matched(
    catalog_url, loaded_sessions
) -> None:
    async with app_client(Settings(database=DatabaseSettings(url=catalog_url))) as (_, client):
        full = await client.get("/search?limit=1")
        lone = (await client.get("/search?collections=joplin&limit=100")).json()
        asked = (await client.get("/search?limit=1&count=true")).json()
    assert full.status_code == 200 and "numberMatched" not in full.json()
    assert lone["numberMatched"] == lone["numberReturned"]
    assert lone["numberMatched"] == await _matched(loaded_sessions, collections=["joplin"])
    assert asked["numberMatched"] == await _matched(loaded_sessions)


def test_count_budget_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("STACQL_API_COUNT_BUDGET_MS", "250")
    monkeypatch.setenv("STACQL_API_COUNT_MAX_ROWS", "5000")
    api = Settings().api
    assert (api.count_budget_ms, api.count_max_rows) == (250, 5000)


@pytest.fixture
def statements(catalog_url, monkeypatch):
    """An app on the loaded catalog (count budget as in ``counting_client``) and what
    one request sends: statements (as SQLAlchemy executes them), connections checked
    out of the pool (statements sent on the driver's connection need one), and how many
    times a request's filters were built."""
    sent: dict[str, list] = {"sql": [], "checkouts": [], "filters": []}
    build = search_where.build_where

    def counted_build(shape, bind):
        sent["filters"].append(shape)
        return build(shape, bind)

    # Every name: the page's statement, the count's statements (both kept by shape), and
    # the conditions built for one request (``where_clauses``).
    monkeypatch.setattr(search_engine, "build_where", counted_build)
    monkeypatch.setattr(search_count, "build_where", counted_build)
    monkeypatch.setattr(search_where, "build_where", counted_build)

    @asynccontextmanager
    async def client_of_app():
        settings = Settings(
            database=DatabaseSettings(url=catalog_url), api=ApiSettings(count_budget_ms=5000)
        )
        async with app_client(settings) as (app, client):
            engine = app.state.engine.sync_engine
            event.listen(engine, "before_cursor_execute", lambda *a: sent["sql"].append(a[2]))
            event.listen(engine, "checkout", lambda *a: sent["checkouts"].append(a[0]))
            yield client

    return client_of_app, sent


async def _second_request(statements, path: str) -> dict:
    """The page of ``path`` asked for a second time (connections and caches warmed by the
    first), with only what the second sent left in the record."""
    client_of_app, sent = statements
    async with client_of_app() as client:
        await client.get(path)
        for key in sent:
            sent[key].clear()
        return (await client.get(path)).json()


async def test_a_lone_first_page_sends_no_count(statements, loaded_sessions) -> None:
    """A first page without a next one is its own exact count: nothing but the page is
    sent, on one connection."""
    client_of_app, sent = statements
    async with client_of_app() as client:
        await client.get("/search?collections=joplin&limit=1")  # connections warmed
        for key in sent:
            sent[key].clear()
        page = (await client.get("/search?collections=joplin&limit=100")).json()
    assert page["numberMatched"] == page["numberReturned"] == await _matched(
        loaded_sessions, collections=["joplin"]
    )
    assert len(sent["sql"]) == 1 and sent["sql"][0].startswith("SELECT"), sent["sql"]
    assert len(sent["checkouts"]) == 1


async def test_a_full_first_page_builds_its_filters_once(statements, loaded_sessions) -> None:
    """The page, the count's plan and the count run on statements kept from the first
    request, filters and all: the second builds no filter. The count's timeout comes
    with its BEGIN (no statement of its own)."""
    sent = statements[1]
    path = "/search?collections=joplin&limit=5&bbox=-180,-90,180,90&filter=id LIKE '%25'"
    page = await _second_request(statements, path)
    builds = len(sent["filters"])
    assert page["numberMatched"] == await _matched(
        loaded_sessions, collections=["joplin"], bbox=[-180, -90, 180, 90],
        filter="id LIKE '%'",
    )
    assert page["numberReturned"] == 5
    page_sql, *plans, count_sql = sent["sql"]
    assert page_sql.startswith(("SELECT", "WITH")) and "count(" in count_sql
    # The plan of the matches (and of a table it scans, for its size), then the count.
    assert plans and all(s.startswith("EXPLAIN") for s in plans), sent["sql"]
    assert not any("set_config" in s for s in sent["sql"])
    assert builds == 0
    assert len(sent["checkouts"]) == 2


async def test_an_asked_count_shares_the_filters_of_its_page(statements, loaded_sessions) -> None:
    """``count=true``: the exact count runs beside the page, with no plan check, both
    on statements kept from the first request (no filter built)."""
    sent = statements[1]
    path = "/search?collections=joplin&limit=5&filter=id LIKE '%25'&count=true"
    page = await _second_request(statements, path)
    builds = len(sent["filters"])
    assert page["numberMatched"] == await _matched(
        loaded_sessions, collections=["joplin"], filter="id LIKE '%'"
    )
    assert sorted("count(" in s for s in sent["sql"]) == [False, True], sent["sql"]
    assert builds == 0
