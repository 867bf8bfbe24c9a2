"""Searches' uses of item properties are counted, written, read back beside the declared
indexes, and turned into index suggestions (``catalog.search.usage``, migration 0025,
``stacql db property-usage``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import ANONYMOUS
from catalog.db.engine import create_engine, create_read_sessionmaker, create_sessionmaker
from catalog.errors import InvalidSortBy
from catalog.operations import SearchOperations
from catalog.search import build_search
from catalog.search.property_indexes import create_property_index, drop_property_index
from catalog.search.render import item_text_parts
from catalog.search.usage import MAX_KEYS, PropertyUsage, Usage, filter_properties, property_usage
from stacql.usage_flush import UsageFlusher
from tests.stacql.test_cli import PLANET as PLANET_FILE
from tests.stacql.test_cli import stacql

PLANET = "planet-disaster-data"
"""The collection of ``tests/stacql/test_cli.py``'s PLANET file (its items have
eo:cloud_cover, platform and gsd; a sort needs the property known)."""

# (search terms, the (property, collection, use) each counts once)
SEARCHES: list[tuple[dict[str, Any], set[tuple[str, str, str]]]] = [
    ({"collections": [PLANET], "filter_lang": "cql2-json",
      "filter": {"op": "and", "args": [
          {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]},
          {"op": "=", "args": [{"property": "platform"}, "x"]},
          {"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]}]}},
     {("eo:cloud_cover", PLANET, "filters"), ("platform", PLANET, "filters")}),
    ({"collections": [PLANET, "b"], "filter": "platform = 'y'", "filter_lang": "cql2-text"},
     {("platform", PLANET, "filters"), ("platform", "b", "filters")}),
    ({"sortby": "-properties.eo:cloud_cover"}, {("eo:cloud_cover", "*", "sorts")}),
    ({"sortby": "gsd", "collections": [PLANET]}, {("gsd", PLANET, "sorts")}),
    ({"query": {"gsd": {"lt": 1}}, "collections": ["b"]}, {("gsd", "b", "filters")}),
    # Core fields have their own indexes: not counted.
    ({"sortby": "-datetime", "filter": {"op": "=", "args": [{"property": "id"}, "i"]},
      "filter_lang": "cql2-json"}, set()),
    ({"bbox": [0, 0, 1, 1]}, set()),
]


@pytest.fixture
async def engine(scratch_url: str, scratch_sessions) -> AsyncIterator[Any]:
    """The scratch catalog holding the PLANET collection, no property counted yet."""
    assert stacql(scratch_url, "ingest", str(PLANET_FILE)).returncode == 0
    engine = create_engine(scratch_url, pool_size=2, pre_ping=False)
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE property_usage"))
    yield engine
    await engine.dispose()


def _expected(rounds: int) -> dict[tuple[str, str], tuple[int, int]]:
    counts: dict[tuple[str, str], list[int]] = {}
    for _, uses in SEARCHES:
        for name, collection, use in uses:
            counts.setdefault((name, collection), [0, 0])[use == "sorts"] += rounds
    return {key: (filters, sorts) for key, (filters, sorts) in counts.items()}


def _read(usages: list[Usage]) -> dict[tuple[str, str], tuple[int, int]]:
    return {(u.name, u.collection_id): (u.filters, u.sorts) for u in usages}


async def _search_all(searches: SearchOperations) -> None:
    for terms, _ in SEARCHES:
        await searches.rows(ANONYMOUS, build_search(**terms), item_text_parts())


async def test_counts_follow_the_searches_and_add_up_across_flushes(engine) -> None:
    usage = PropertyUsage()
    searches = SearchOperations(create_read_sessionmaker(engine), usage=usage)
    flusher = UsageFlusher(usage, create_sessionmaker(engine), seconds=3600)
    await _search_all(searches)
    assert await flusher.flush() == sum(len(uses) for _, uses in SEARCHES)
    async with engine.connect() as conn:
        first = await property_usage(conn)
    assert _read(first) == _expected(1)
    await _search_all(searches)
    await _search_all(searches)
    flusher.start()
    await flusher.stop()  # the last counts are written when the process stops
    async with engine.connect() as conn:
        later = await property_usage(conn)
    assert _read(later) == _expected(3)
    assert later[0].uses == max(u.uses for u in later)  # most used first
    assert usage.pending() == 0


async def test_indexed_tells_which_uses_a_declared_index_serves(engine) -> None:
    usage = PropertyUsage()
    await _search_all(SearchOperations(create_read_sessionmaker(engine), usage=usage))
    await UsageFlusher(usage, create_sessionmaker(engine), seconds=3600).flush()
    await create_property_index(engine, "eo:cloud_cover")  # every collection
    await create_property_index(engine, "platform", PLANET)
    try:
        async with engine.connect() as conn:
            indexed = {(u.name, u.collection_id): u.indexed for u in await property_usage(conn)}
        assert indexed == {
            ("eo:cloud_cover", PLANET): True, ("eo:cloud_cover", "*"): True,
            ("platform", PLANET): True, ("platform", "b"): False, ("gsd", "b"): False,
            ("gsd", PLANET): False,
        }
        shown = stacql(engine.url.render_as_string(hide_password=False), "db",
                       "property-usage", "--min-uses", "1")
        assert shown.returncode == 0, shown.stderr
        suggested = [line for line in shown.stdout.splitlines() if line.startswith("suggested")]
        assert sorted(suggested) == [
            "suggested: stacql db index-property gsd --collection b",
            f"suggested: stacql db index-property gsd --collection {PLANET}",
            "suggested: stacql db index-property platform --collection b",
        ]
    finally:
        await drop_property_index(engine, "eo:cloud_cover")
        await drop_property_index(engine, "platform", PLANET)


async def test_a_refused_search_is_not_counted(engine) -> None:
    usage = PropertyUsage()
    searches = SearchOperations(create_read_sessionmaker(engine), usage=usage)
    with pytest.raises(InvalidSortBy):
        await searches.rows(ANONYMOUS, build_search(sortby="no:such"), item_text_parts())
    assert usage.pending() == 0


async def test_a_failed_write_keeps_its_counts(engine) -> None:
    usage = PropertyUsage()
    usage.note(build_search(sortby="-gsd"))
    lost = create_engine("postgresql+asyncpg://root@127.0.0.1:1/nowhere", pre_ping=False)
    try:
        assert await UsageFlusher(usage, create_sessionmaker(lost), seconds=3600).flush() == 0
    finally:
        await lost.dispose()
    assert usage.pending() == 1
    assert await UsageFlusher(usage, create_sessionmaker(engine), seconds=3600).flush() == 1


def test_counts_are_bounded_between_flushes() -> None:
    usage = PropertyUsage()
    for i in range(MAX_KEYS + 50):
        usage.note(build_search(sortby=f"p{i}"))
    usage.note(build_search(sortby="p0"))
    assert usage.pending() == MAX_KEYS + 1


def test_filter_properties_are_every_property_node() -> None:
    tree = {"op": "or", "args": [
        {"op": "=", "args": [{"property": "a"}, {"property": "b"}]},
        {"op": "in", "args": [{"property": "c"}, ["x", {"property": "d"}]]},
        {"op": "=", "args": [{"property": "e", "extra": 1}, 1]},
    ]}
    assert sorted(filter_properties(tree)) == ["a", "b", "c", "d"]


async def test_property_usage_of_an_unsearched_catalog_is_empty(
    engine, scratch_sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with scratch_sessions() as session:
        assert await property_usage(session) == []
