"""Free text (``q``) is answered from the trigram index of migration 0010 and finds
exactly the items whose title, description or keywords contain a term, ignoring case."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.ingest import load_path
from catalog.search import build_search, search
from catalog.search.engine import page_statement
from catalog.search.fields import items
from catalog.search.where import where_clauses
from tests.support.paths import SHARED
from tests.support.reference import Key


def _member_text(value: Any) -> str:
    """A member as PostgreSQL's ``->>`` gives it: strings as they are, else JSON text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _document(item: dict[str, Any]) -> str:
    props = item["properties"]
    members = [props.get(k) for k in ("title", "description", "keywords")]
    return " ".join(_member_text(v) for v in members if v is not None).lower()


def _expected(stored: dict[Key, dict], terms: list[str]) -> set[Key]:
    return {key for key, doc in stored.items() if any(t in _document(doc) for t in terms)}


async def _found(sessions: async_sessionmaker[AsyncSession], q: str) -> set[Key]:
    found: set[Key] = set()
    token = None
    async with sessions() as session:
        while True:
            page = await search(session, build_search(q=q, limit=500, token=token))
            found.update((doc["collection"], doc["id"]) for doc in page.items)
            token = page.next_token
            if token is None:
                return found


def _words(stored: dict[Key, dict]) -> list[str]:
    """Distinct words of the stored titles, descriptions and keywords, a spread of them."""
    words = sorted({w for doc in stored.values() for w in re.findall(r"\w+", _document(doc))})
    assert len(words) > 20, "the shared data has too little text to test free text on"
    return words[:: max(1, len(words) // 25)]


async def test_every_word_finds_the_items_holding_it(loaded_sessions, stored_items) -> None:
    for word in _words(stored_items):
        assert await _found(loaded_sessions, word) == _expected(stored_items, [word]), word


@pytest.mark.parametrize(
    ("q", "terms"),
    [
        ("NAIP", ["naip"]),  # case folded
        ("im", ["im"]),  # shorter than a trigram
        ('"of the"', ["of the"]),  # a phrase
        ("joplin,landsat", ["joplin", "landsat"]),  # any term
        ("100%", ["100%"]),  # LIKE's wildcards are matched literally
        ("a_b", ["a_b"]),
        ('"]"', ["]"]),  # inside the keywords' JSON text
    ],
)
async def test_queries_match_the_unindexed_semantics(
    loaded_sessions, stored_items, q: str, terms: list[str]
) -> None:
    assert await _found(loaded_sessions, q) == _expected(stored_items, terms)


async def test_free_text_plan_uses_the_trigram_index(loaded_sessions) -> None:
    query = select(items.c.id).where(*where_clauses(build_search(q="naip,landsat")))
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    async with loaded_sessions() as session, session.begin():
        # Few rows: without this the planner rightly prefers reading the whole table.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in await session.execute(text(f"EXPLAIN {sql}")))
    assert "items_text_trgm" in plan, plan


async def test_a_catalog_without_text_is_searched_in_the_index_not_by_date(
    scratch_sessions, tmp_path
) -> None:
    """The default order walks the datetime index; without statistics of the searched
    text, the planner took that walk (testing every item) for a term found nowhere."""
    items_file, collection = tmp_path / "items.ndjson", tmp_path / "collection.json"
    subprocess.run(
        [sys.executable, str(SHARED / "peer" / "gen_items.py"), "--n", "3000",
         "--out", str(items_file), "--collection-out", str(collection)],
        check=True, capture_output=True,
    )
    for path in (collection, items_file):
        assert (await load_path(scratch_sessions, path)).ok
    async with scratch_sessions() as session:
        await session.execute(text("ANALYZE items"))
        await session.commit()
        query = page_statement(build_search(q="naip"), [items.c.id])
        sql = str(query.compile(dialect=postgresql.dialect(),
                                compile_kwargs={"literal_binds": True}))
        plan = (await session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
    scans = list(_index_scans(plan[0]["Plan"]))
    # Statistics of the text: the planner expects no match (over 3,000 items it would
    # still use the index without them, expecting 120; over 100,000 it walked by date).
    # Each partition's index is named after the partitioned index: <name>__<partition>.
    assert [name.split("__")[0] for name, _ in scans] == ["items_text_trgm"], plan
    assert scans[0][1] <= 1, plan


def _index_scans(node: dict[str, Any]) -> Iterator[tuple[str, float]]:
    if "Index Name" in node:
        yield node["Index Name"], node["Plan Rows"]
    for child in node.get("Plans", ()):
        yield from _index_scans(child)
