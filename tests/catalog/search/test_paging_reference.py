"""Keyset paging of ``catalog.search`` walked against the reference order.

Each search is read with a small limit by following ``next_token`` to the end, then
walked back with ``prev_token``; no item may be skipped or repeated, and the pages must
concatenate to the reference order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.search import SearchPage, build_search, search
from tests.support.reference import Key, Reference

MAX_PAGES = 500


@dataclass(frozen=True)
class Walk:
    """A search read ``limit`` items at a time."""

    name: str
    params: dict[str, Any]
    limit: int
    cql2_json: dict[str, Any] | None = None

    def reference_params(self) -> dict[str, Any]:
        params = dict(self.params)
        if self.cql2_json is not None:
            params["filter"] = self.cql2_json
        return params


WALKS = [
    Walk("all-items-default-order", {}, 97),
    Walk("all-items-by-gsd-with-ties", {"sortby": "gsd"}, 13),
    Walk("equal-datetimes-tie-broken-by-id", {"collections": ["joplin"]}, 4),
    Walk(
        "mixed-json-types-descending",
        {"sortby": "-naip:year",
         "collections": ["pgstac-test-collection", "pgstac-test-collection2"]},
        7,
    ),
    Walk("same-id-in-two-collections", {"ids": ["pgstac-test-item-duplicated"], "sortby": "id"}, 1),
    Walk("mixed-directions", {"sortby": "collection,-datetime"}, 50),
    Walk(
        "filtered-by-property-descending",
        {"filter": "eo:cloud_cover < 50", "sortby": "-eo:cloud_cover"},
        6,
        {"op": "<", "args": [{"property": "eo:cloud_cover"}, 50]},
    ),
    Walk("missing-property-sorts-first", {"sortby": "platform", "bbox": [-180, -90, 180, 90]}, 25),
    Walk(
        "interval-by-id-descending",
        {"datetime": "2011-01-01T00:00:00Z/2014-01-01T00:00:00Z", "sortby": "-id"},
        33,
    ),
    # Range items whose nominal datetime lies before the window (HLS, 2021-01-14) and
    # after it (Sentinel-1, 2022-04-28): each part of the split search pages with the rest.
    Walk(
        "interval-cutting-ranges-on-both-sides",
        {"datetime": "2021-01-14T22:19:00Z/2022-04-28T03:44:20Z"},
        2,
    ),
]


def _walk_params() -> list[Any]:
    return [pytest.param(walk, id=walk.name) for walk in WALKS]


def _keys(page: SearchPage) -> list[Key]:
    return [(doc["collection"], doc["id"]) for doc in page.items]


async def _pages(
    sessions: async_sessionmaker[AsyncSession], walk: Walk, token_of: str, start: str | None
) -> list[SearchPage]:
    """Pages read by following ``token_of`` ("next_token" or "prev_token") from ``start``."""
    pages, token = [], start
    async with sessions() as session:
        for _ in range(MAX_PAGES):
            page = await search(session, build_search(**walk.params, limit=walk.limit, token=token))
            pages.append(page)
            token = getattr(page, token_of)
            if token is None:
                return pages
    raise AssertionError(f"more than {MAX_PAGES} pages")


def test_the_walks_have_distinct_names() -> None:
    assert len({walk.name for walk in WALKS}) == len(WALKS)


@pytest.mark.parametrize("walk", _walk_params())
async def test_next_tokens_read_every_item_once_in_reference_order(
    walk: Walk, loaded_sessions: async_sessionmaker[AsyncSession], reference: Reference
) -> None:
    pages = await _pages(loaded_sessions, walk, "next_token", None)
    expected = reference.search(**walk.reference_params())
    assert len(expected) > walk.limit  # the walk spans several pages
    assert [key for page in pages for key in _keys(page)] == expected


@pytest.mark.parametrize("walk", _walk_params())
async def test_full_pages_until_the_last(
    walk: Walk, loaded_sessions: async_sessionmaker[AsyncSession]
) -> None:
    pages = await _pages(loaded_sessions, walk, "next_token", None)
    assert [page.returned for page in pages[:-1]] == [walk.limit] * (len(pages) - 1)
    assert 0 < pages[-1].returned <= walk.limit


@pytest.mark.parametrize("walk", _walk_params())
async def test_prev_tokens_walk_back_the_same_pages(
    walk: Walk, loaded_sessions: async_sessionmaker[AsyncSession]
) -> None:
    forward = await _pages(loaded_sessions, walk, "next_token", None)
    backward = await _pages(loaded_sessions, walk, "prev_token", forward[-1].prev_token)
    assert [_keys(page) for page in reversed(backward)] == [_keys(p) for p in forward[:-1]]


@pytest.mark.parametrize("walk", _walk_params())
async def test_first_page_has_no_prev_token(
    walk: Walk, loaded_sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with loaded_sessions() as session:
        page = await search(session, build_search(**walk.params, limit=walk.limit))
    assert page.prev_token is None
