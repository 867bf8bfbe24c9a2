"""Counts of the items a search matches: exact on request, or bounded by time and rows.

Clients read ``numberMatched`` without asking for it (pystac-client's ``matched()``
pages with ``limit=1`` and has no way to ask for a count), so an operator may have one
tried on full first pages (the STAC API's ``count_budget``, off by default), but one can
cost a scan of every matching row. ``count_within`` gives up early:
when PostgreSQL's plan expects more than ``max_rows`` matches, or a sequential scan of
an items table of more than ``max_rows`` rows, it does not count at all (such a count,
the usual one on a large table, costs one planning); otherwise it
counts at most ``max_rows + 1`` matches under a statement timeout of ``budget_ms`` (the
plan can be wrong, or the matches slow to find), and answers None (no count) when any
bound is reached. The plan and the count share one transaction, begun with its timeout
in one round trip and rolled back in another.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import asyncpg
import orjson
from sqlalchemy import Select, func, literal_column, select, table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.sql.visitors import InternalTraversal

from catalog.db.errors import driver_error, translate_db_errors
from catalog.db.partitions import is_item_table
from catalog.search.cql2 import KEPT_FILTER_BYTES
from catalog.search.fields import items
from catalog.search.request import SearchRequest
from catalog.search.where import Binder, Shape, build_where, where_of

log = logging.getLogger(__name__)


def _count_of(shape: Shape) -> Select[Any]:
    return select(func.count().label("n")).select_from(items).where(
        *build_where(shape, Binder())
    )


def _bounded_of(shape: Shape, max_rows: int) -> tuple[Select[Any], Select[Any]]:
    matches: Select[Any] = select(literal_column("1")).select_from(items).where(
        *build_where(shape, Binder())
    )
    capped = matches.limit(max_rows + 1).subquery()
    return matches, select(func.count()).select_from(capped)


# Kept by shape, as page statements are (``catalog.search.engine.page_query``): a count
# of a shape seen before costs its values, not an expression tree and its cache key.
_kept_count = lru_cache(maxsize=256)(_count_of)
_kept_bounded = lru_cache(maxsize=256)(_bounded_of)


def count_query(request: SearchRequest) -> tuple[Select[Any], dict[str, Any], bool]:
    """The statement counting the items ``request`` matches (a column ``n``), its
    parameters' values, and whether the statement is kept for later requests of its
    shape (not for a long filter's)."""
    where = where_of(request)
    values = dict(where.values)  # the request keeps its own
    if where.filter_bytes > KEPT_FILTER_BYTES:
        return _count_of(where.shape), values, False
    return _kept_count(where.shape), values, True


@dataclass(frozen=True)
class CountBudget:
    """How much an unrequested count may cost: a time and a number of rows.

    ``budget_ms`` of 0 turns such counts off (only ``count=true`` counts).
    """

    budget_ms: int = 25
    max_rows: int = 10_000

    @property
    def enabled(self) -> bool:
        """Whether counts are tried at all without being asked for."""
        return self.budget_ms > 0 and self.max_rows > 0


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON)`` of a SELECT, its parameters bound as the SELECT's.

    Cached like the SELECT it explains (its cache key is the SELECT's): compiling it
    again for every first page cost more CPU than the EXPLAIN round trip."""

    inherit_cache = True
    _traverse_internals = [("statement", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, statement: Select) -> None:
        self.statement = statement

    @property
    def _all_selected_columns(self) -> tuple[()]:
        # The plan is read by position: no column of the SELECT names a column here
        # (a cached compilation maps its result columns onto these).
        return ()


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


@dataclass(frozen=True)
class _Plan:
    rows: float
    """The number of rows the plan expects."""
    scanned: frozenset[str]
    """The items tables (partitions) it reads from end to end (sequential scans)."""


def _seq_scanned(node: dict[str, Any]) -> frozenset[str]:
    found = set()
    relation = node.get("Relation Name", "")
    if node.get("Node Type") == "Seq Scan" and is_item_table(relation):
        found.add(relation)
    for child in node.get("Plans", ()):
        found |= _seq_scanned(child)
    return frozenset(found)


async def _plan(
    conn: AsyncConnection, query: Select, values: dict[str, Any] | None = None
) -> _Plan:
    """What PostgreSQL's plan of ``query`` run with ``values`` expects to do."""
    plan = (await conn.execute(_Explain(query), values)).scalar_one()
    if isinstance(plan, str | bytes):
        plan = orjson.loads(plan)
    root = plan[0]["Plan"]
    return _Plan(float(root["Plan Rows"]), _seq_scanned(root))


async def _costly(
    conn: AsyncConnection, matches: Select, values: dict[str, Any], max_rows: int
) -> bool:
    """Whether the plan of ``matches`` expects more than ``max_rows`` rows, or reads
    items tables (partitions) of more than ``max_rows`` rows from end to end."""
    plan = await _plan(conn, matches, values)
    if plan.rows > max_rows:
        return True
    if not plan.scanned:
        return False
    # The planner's size of the tables read: it knows it even before any ANALYZE. Their
    # names come from the plan (partitions of items), never from a caller.
    rows = 0.0
    for name in plan.scanned:
        rows += (await _plan(conn, select(literal_column("1")).select_from(
            table(name)))).rows
    return rows > max_rows


async def count_within(
    session: AsyncSession, request: SearchRequest, budget: CountBudget
) -> int | None:
    """The exact number of items matching ``request``, or None when the plan expects
    more than ``budget.max_rows`` matches or a full scan of a table larger than that,
    or counting them would take more than ``budget.budget_ms`` or pass
    ``budget.max_rows`` matches.

    ``session`` must not have run a statement yet: the count runs in a transaction of
    its own (whatever the session's isolation level) so that its statement timeout ends
    with it. Other database errors are translated as everywhere in the catalog.
    """
    if not budget.enabled:
        return None
    where = where_of(request)
    bounded = _bounded_of if where.filter_bytes > KEPT_FILTER_BYTES else _kept_bounded
    matches, count = bounded(where.shape, budget.max_rows)
    with translate_db_errors():
        # Autocommit for SQLAlchemy: the transaction is begun and ended here, on the
        # driver's connection, its timeout set with BEGIN in one round trip (as
        # SQLAlchemy's BEGIN and a set_config, two round trips and twice the CPU).
        conn = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        async with _bounded(conn, budget.budget_ms):
            try:
                if await _costly(conn, matches, where.values, budget.max_rows):
                    return None
                result = await conn.execute(count, where.values)
            except DBAPIError as exc:
                if isinstance(driver_error(exc), asyncpg.QueryCanceledError):
                    return None  # past the budget
                raise
            matched = result.scalar_one()
    return matched if matched <= budget.max_rows else None


@asynccontextmanager
async def _bounded(conn: AsyncConnection, budget_ms: int) -> AsyncIterator[None]:
    """A READ COMMITTED transaction on ``conn`` whose statements stop after
    ``budget_ms``, rolled back on the way out. A connection left in an unknown state (a
    cancelled statement, a failed ROLLBACK) is invalidated, never pooled mid-transaction:
    SQLAlchemy, which did not begin this transaction, would not end it."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    try:
        await driver.execute(
            "BEGIN ISOLATION LEVEL READ COMMITTED; "
            f"SET LOCAL statement_timeout = {int(budget_ms)}"
        )
        yield
    except Exception:
        await _rollback(conn, driver)
        raise
    except BaseException:  # cancelled: the connection may be mid-statement
        if not conn.invalidated:
            await conn.invalidate()
        raise
    else:
        await _rollback(conn, driver)


async def _rollback(conn: AsyncConnection, driver: Any) -> None:
    """ROLLBACK on the driver's connection. One that fails costs the connection, not the
    request: the count's answer stands. (The count's own statement timeout can cancel
    its ROLLBACK on a loaded machine, since SET LOCAL lasts until the transaction ends.)"""
    if conn.invalidated or driver.is_closed():
        return
    try:
        await driver.execute("ROLLBACK")
    except Exception as exc:
        log.info("count connection dropped: its ROLLBACK failed (%s)", type(exc).__name__)
        await conn.invalidate()
    except BaseException:
        await conn.invalidate()
        raise
