"""CQL2 filters compiled by template (``catalog.search.cql2.filter_template``): filters
that differ only in their literals share one plan and one kept page statement, and each
request runs with its own literals.

A literal left in a shared plan, or given to the wrong parameter, would answer one
request with another's matches; so series of filters of a few templates, interleaved,
are checked against the independent reference, on the catalog loaded from
``../shared/data/stac``.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db.driver import driver_statement
from catalog.errors import InvalidDatetime, InvalidFilter, InvalidInput
from catalog.search import build_search, count_matches, search
from catalog.search.count import CountBudget, count_query, count_within
from catalog.search.cql2 import (
    LITERAL_KINDS,
    Lit,
    filter_plan,
    filter_template,
    node_kind,
)
from catalog.search.engine import page_query
from catalog.search.render import item_text_parts
from tests.support.reference import Reference

ALL = 5_000


def prop(name: str) -> dict[str, str]:
    return {"property": name}


def op(name: str, *args: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args)}


def _statement(filter_json: dict[str, Any]) -> Any:
    return page_query(build_search(filter=filter_json), item_text_parts()).statement


def _box(rng: random.Random) -> list[float]:
    """A box over the shared items' area (86-89° W, 30-31° N) or beside it."""
    west, south = rng.uniform(-96, -84), rng.uniform(29, 38)
    return [round(west, 3), round(south, 3), round(west + rng.uniform(0.05, 2), 3),
            round(south + rng.uniform(0.05, 1.5), 3)]


def _year(rng: random.Random) -> int:
    return rng.randint(1999, 2024)


# Templates, each with a maker of its literals: every filter a template makes has its key.
TEMPLATES: dict[str, Any] = {
    "cloud-cover-at-most": lambda r: op(
        "<=", prop("eo:cloud_cover"), r.choice([r.randint(0, 100), round(r.uniform(0, 100), 2)])),
    "cloud-cover-above (JSONB range)": lambda r: op(
        ">", prop("eo:cloud_cover"), r.randint(0, 100)),
    "gsd-between": lambda r: op(
        "between", prop("gsd"), *sorted([r.choice([0.3, 0.5, 0.6, 1, 1.1, 15]),
                                         r.choice([0.3, 0.6, 0.9, 1.0, 79])])),
    "year-equals-text (containment)": lambda r: op(
        "=", prop("naip:year"), str(r.choice([2011, 2012, 2013, 2015, 2019, 2020]))),
    "epsg-in-two": lambda r: op(
        "in", prop("proj:epsg"), r.sample([26916, 3857, 32615, 32622, 4326], 2)),
    "platform-like": lambda r: op(
        "like", prop("platform"), r.choice(["landsat%", "S%", "%1%", "cool%", "x%"])),
    "platform-casei": lambda r: op(
        "=", {"op": "casei", "args": [prop("platform")]},
        {"op": "casei", "args": [r.choice(["ss02", "LANDSAT-8", "sentinel-1a", "none"])]}),
    "instruments-contain": lambda r: op(
        "a_contains", prop("instruments"), [r.choice(["PS2", "mss", "oli", "tirs", "x"])]),
    "datetime-during": lambda r: op(
        "t_intersects", prop("datetime"),
        {"interval": [f"{(y := _year(r))}-01-01T00:00:00Z", f"{y + r.randint(0, 4)}-12-31"]}),
    "datetime-before-timestamp": lambda r: op(
        "t_before", prop("datetime"), {"timestamp": f"{_year(r)}-06-01T00:00:00Z"}),
    "box-and-cloud-free": lambda r: op(
        "and", op("s_intersects", prop("geometry"), {"bbox": _box(r)}),
        op("not", op("<", prop("gsd"), r.choice([0.5, 0.6, 1])))),
}


def _series(seed: int, per_template: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    series = [(name, make(rng)) for name, make in TEMPLATES.items() for _ in range(per_template)]
    rng.shuffle(series)
    return series


def test_each_template_has_one_key_and_one_statement() -> None:
    series = _series(seed=3, per_template=8)
    keys: dict[str, set[bytes]] = {}
    statements: dict[str, set[int]] = {}
    for name, filter_json in series:
        keys.setdefault(name, set()).add(filter_template(filter_json).key)
        statements.setdefault(name, set()).add(id(_statement(filter_json)))
    assert all(len(k) == 1 for k in keys.values()), keys
    assert all(len(s) == 1 for s in statements.values())
    assert len({k for ks in keys.values() for k in ks}) == len(TEMPLATES)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (op("<=", prop("gsd"), 1), op("<=", prop("gsd"), "1")),  # number / text
        (op("<=", prop("gsd"), 1), op("<", prop("gsd"), 1)),  # operator
        (op("<=", prop("gsd"), 1), op("<=", prop("eo:cloud_cover"), 1)),  # property
        (op("=", prop("naip:year"), "2011"), op("not", op("=", prop("naip:year"), "2011"))),
        (op("in", prop("proj:epsg"), [1, 2]), op("in", prop("proj:epsg"), [1, 2, 3])),
        (op("t_intersects", prop("datetime"), {"interval": ["2011-01-01", ".."]}),
         op("t_intersects", prop("datetime"), {"interval": ["2011-01-01", "2012-01-01"]})),
        (op("t_before", prop("datetime"), {"timestamp": "2011-01-01T00:00:00Z"}),
         op("t_before", prop("datetime"), {"interval": ["2011-01-01", "2012-01-01"]})),
        (op("and", True, op("<", prop("gsd"), 1)), op("and", False, op("<", prop("gsd"), 1))),
        # A text literal spelled as the tag of a number literal stays text.
        (op("=", prop("platform"), 5), op("=", prop("platform"), "\x00number")),
    ],
)
def test_filters_that_differ_in_more_than_literals_have_their_own_statements(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    assert filter_template(a).key != filter_template(b).key
    assert _statement(a) is not _statement(b)


def test_the_plan_holds_no_literal_of_the_request_that_compiled_it() -> None:
    first = filter_template(op("<=", prop("eo:cloud_cover"), 12.5))
    second = filter_template(op("<=", prop("eo:cloud_cover"), 80))
    plan = filter_plan(first)
    assert filter_plan(second) is plan
    assert list(plan.values(second.literals).values()) == [80]
    held = plan.expression.compile(dialect=asyncpg_dialect()).params
    assert held["cql0"] is None  # the property name and JSON type are the statement's own
    assert 12.5 not in held.values()


NODES_OF_EACH_KIND = {
    "number": 12.5, "text": "naip", "timestamp": {"timestamp": "2011-01-01T00:00:00Z"},
    "bbox": {"bbox": [-90, 30, -89, 31]}, "geometry": {"type": "Point", "coordinates": [1, 2]},
    "bool": True, "null": None, "open": "..", "list": ["naip", 3], "property": prop("gsd"),
    "interval": {"interval": ["2011-01-01", ".."]}, "call": op("casei", prop("platform")),
    "other": {"neither": 1},
}


@pytest.mark.parametrize("kind", sorted(NODES_OF_EACH_KIND))
def test_each_kind_of_node_is_a_literal_or_structure_the_compiler_reads(kind: str) -> None:
    """The template walk and the compiler share ``node_kind``: a literal kind is taken
    out, and any other kind, kept in the template, compiles as an argument or is refused
    with a typed error (the ".." text literal once fell between the two)."""
    node = NODES_OF_EACH_KIND[kind]
    assert node_kind(node) == kind
    template = filter_template(op("=", prop("platform"), node))
    taken = template.tree["args"][1]
    assert isinstance(taken, Lit) is (kind in LITERAL_KINDS)
    try:
        filter_plan(template).values(template.literals)
    except InvalidFilter:
        assert kind not in ("number", "text", "open", "property", "call"), kind


@pytest.mark.parametrize(
    ("good", "bad", "error"),
    [
        (op("t_after", prop("datetime"), "2011-01-01T00:00:00Z"),
         op("t_after", prop("datetime"), "the first of May"), InvalidDatetime),
        (op("s_intersects", prop("geometry"), {"bbox": [-90, 30, -89, 31]}),
         op("s_intersects", prop("geometry"), {"bbox": [-90, 31, -89, 30]}), InvalidInput),
        (op("s_intersects", prop("geometry"), {"type": "Point", "coordinates": [1, 2]}),
         op("s_intersects", prop("geometry"), {"type": "Point", "coordinates": [1, 200]}),
         InvalidInput),
        (op("t_intersects", prop("datetime"), {"interval": ["2011-01-01", ".."]}),
         op("t_intersects", prop("datetime"), {"interval": [2011, ".."]}), InvalidFilter),
    ],
)
def test_a_bad_literal_is_refused_once_its_template_is_kept(
    good: dict[str, Any], bad: dict[str, Any], error: type[Exception]
) -> None:
    """The plan is compiled for the first filter; each later one's literals are read on
    their own, and a literal the first did not have the fault of is refused."""
    kept = filter_template(good)
    filter_plan(kept).values(kept.literals)
    template = filter_template(bad)
    assert template.key == kept.key
    with pytest.raises(error):
        filter_plan(template).values(template.literals)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_filter_statements_are_sent_by_the_driver(name: str) -> None:
    """Literals are request values that need no conversion by SQLAlchemy, so filtered
    pages take the driver path (``catalog.db.driver``)."""
    statement = _statement(TEMPLATES[name](random.Random(0)))
    assert driver_statement(statement, asyncpg_dialect()) is not None


async def test_interleaved_filters_of_shared_templates_match_the_reference(
    loaded_sessions: async_sessionmaker[AsyncSession], reference: Reference
) -> None:
    """Ten filters of each template, shuffled, one after the other on one session: each
    answer is the reference's, though every template's plan and statement came from
    its first filter."""
    series = _series(seed=11, per_template=10)
    matched: dict[str, int] = {}
    async with loaded_sessions() as session:
        for name, filter_json in series:
            page = await search(session, build_search(filter=filter_json, limit=ALL))
            found = [(doc["collection"], doc["id"]) for doc in page.items]
            assert found == reference.search(filter=filter_json), (name, filter_json)
            matched[name] = matched.get(name, 0) + bool(found)
    assert sum(1 for n in matched.values() if n) >= len(TEMPLATES) - 1, matched


def test_counts_of_one_template_share_a_kept_statement() -> None:
    a = build_search(filter=op("<=", prop("eo:cloud_cover"), 10), bbox=[-90, 30, -85, 32])
    b = build_search(filter=op("<=", prop("eo:cloud_cover"), 75.5), bbox=[1, 2, 3, 4])
    (first, _, kept_a), (second, _, kept_b) = count_query(a), count_query(b)
    assert kept_a and kept_b and first is second
    assert driver_statement(first, asyncpg_dialect()) is not None


async def test_interleaved_counts_of_shared_templates_match_the_reference(
    loaded_sessions: async_sessionmaker[AsyncSession], reference: Reference
) -> None:
    """Exact counts (``count_matches``) and counts within a budget (``count_within``) of
    shuffled filters of every template, on kept statements, are the reference's."""
    budget = CountBudget(budget_ms=5_000, max_rows=ALL)
    async with loaded_sessions() as session:
        for name, filter_json in _series(seed=5, per_template=4):
            expected = len(reference.search(filter=filter_json))
            request = build_search(filter=filter_json)
            assert await count_matches(session, request) == expected, (name, filter_json)
            await session.commit()  # count_within starts on a fresh connection state
            assert await count_within(session, request, budget) == expected, name


async def test_a_text_literal_spelled_as_an_open_interval_end_is_text(
    loaded_sessions: async_sessionmaker[AsyncSession], reference: Reference
) -> None:
    """The template keeps ".." (an interval's open end); as a value it is still text,
    searched as the reference searches it."""
    async with loaded_sessions() as session:
        for filter_json in (op("=", prop("platform"), ".."),
                            op("in", prop("platform"), ["..", "landsat-8"]),
                            op("like", prop("platform"), "..")):
            page = await search(session, build_search(filter=filter_json, limit=ALL))
            found = [(doc["collection"], doc["id"]) for doc in page.items]
            assert found == reference.search(filter=filter_json), filter_json
