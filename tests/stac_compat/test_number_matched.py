"""``numberMatched`` without ``count=true``: exact within the count budget, else left out."""

from __future__ import annotations

import pytest

from catalog.search import build_search, count_matches
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

