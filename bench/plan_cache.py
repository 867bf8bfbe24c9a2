"""What PostgreSQL's plan cache does to the statements our server sends: each kind's
statements run as the server runs them (one prepared statement per shape on one asyncpg
connection, positional values) under the three ``plan_cache_mode`` settings.

``auto`` is what the server gets: PostgreSQL plans a prepared statement for its values
five times, then keeps a generic plan when it does not expect it to cost more.
``force_custom_plan`` plans every execution for its values (what EXPLAIN with literal
values shows); ``force_generic_plan`` always runs the generic plan. When ``auto`` is
slower than ``force_custom_plan``, the generic plan that was kept is the worse one; when
it is slower than ``force_generic_plan``, PostgreSQL keeps planning for the values (its
estimates prefer custom plans) where the generic plan would run faster. The
generic and the custom plan of the kind's first next page (its first statement for the
other kinds) are printed with ``--plans``.

    .venv/bin/python bench/plan_cache.py --database stacql_bench_scale --types paging

Requests come from ``../shared/peer/search_bench.py``'s seeded pools (``paging``: the
first page and five ``next`` links of each). Every statement is run ``--rounds`` times
per mode, modes alternating; the median milliseconds (client side, rows read) per
statement are printed, per page for paging.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the catalog importable
    sys.path.insert(0, str(REPO))

from bench import search_http  # noqa: E402
from bench.scale import COLLECTION, database_url, request_params  # noqa: E402
from catalog.db import create_engine, create_sessionmaker  # noqa: E402
from catalog.db.driver import driver_statement  # noqa: E402
from catalog.search import build_search, search  # noqa: E402
from catalog.search.engine import sent_page_query  # noqa: E402
from catalog.search.render import item_text_parts  # noqa: E402

MODES = ("auto", "force_custom_plan", "force_generic_plan")

Sent = tuple[str, list[Any]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="stacql_bench_scale")
    parser.add_argument("--types", default="paging",
                        help=f"comma-separated kinds of {search_http.DEFAULT_TYPES}")
    parser.add_argument("--requests", type=int, default=20, help="pool entries per kind")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each mode")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--plans", action="store_true",
                        help="print the generic and the custom plan of the first statement")
    return parser.parse_args(argv)


async def sent_statements(database: str, kind: str, n: int, seed: int) -> list[list[Sent]]:
    """For each of the first ``n`` requests of ``kind``'s pool, the statements the server
    sends (paging: its six pages), as SQL text and positional values."""
    sb = search_http.load_peer_bench()
    engine = create_engine(database_url(database), pool_size=1)
    pages = sb.PAGING_PAGES if kind == "paging" else 0
    out: list[list[Sent]] = []
    try:
        async with create_sessionmaker(engine)() as session:
            for _, _, body in sb.build_pool(kind, seed, n, COLLECTION, 10):
                params = request_params(kind, body)
                request = build_search(**params)
                sent: list[Sent] = []
                for _ in range(pages + 1):
                    query = await sent_page_query(session, request, item_text_parts())
                    compiled = driver_statement(query.statement, engine.dialect)
                    if compiled is None:
                        raise SystemExit(f"{kind}: our statement is not sent by the driver")
                    sent.append((compiled.sql, compiled.arguments(query.values)))
                    page = await search(session, request)
                    if page.next_token is None:
                        break
                    request = build_search(**params, token=page.next_token)
                out.append(sent)
            await session.rollback()
    finally:
        await engine.dispose()
    return out


async def timed(conn: asyncpg.Connection, mode: str, series: list[list[Sent]]) -> list[list[float]]:
    """Milliseconds of each statement of ``series`` under ``mode``, on fresh prepared
    statements (a kept generic plan is not carried from one mode to the next)."""
    await conn.execute(f"SET plan_cache_mode = {mode}")
    prepared: dict[str, asyncpg.prepared_stmt.PreparedStatement] = {}
    out = []
    for sent in series:
        spent = []
        for sql, args in sent:
            if sql not in prepared:
                prepared[sql] = await conn.prepare(sql)
            start = time.perf_counter()
            await prepared[sql].fetch(*args)
            spent.append((time.perf_counter() - start) * 1000)
        out.append(spent)
    # The statements are closed by asyncpg once unreferenced; a DEALLOCATE ALL here
    # would also drop the statements of asyncpg's own cache (plan_text's casts).
    return out


async def plan_text(conn: asyncpg.Connection, mode: str, sent: Sent) -> str:
    """EXPLAIN ANALYZE of one statement run as a prepared statement under ``mode``.

    PostgreSQL 15's EXPLAIN of a statement with parameters plans it for their values
    (a custom plan whatever the mode), so the statement is prepared and its prepared
    name EXECUTEd with the values written as literals of the parameters' types."""
    sql, args = sent
    statement = await conn.prepare(sql)
    literals = []
    for param, value in zip(statement.get_parameters(), args, strict=True):
        type_name = f"{param.schema}.{param.name}" if param.kind == "scalar" else param.name
        as_text = await conn.fetchval(f"SELECT ($1::{type_name})::text", value)
        literals.append("NULL" if as_text is None
                        else "'" + as_text.replace("'", "''") + f"'::{type_name}")
    await conn.execute(f"SET plan_cache_mode = {mode}")
    name = statement.get_name()
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({', '.join(literals)})")
    return "\n".join(r[0] for r in rows)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every kind's medians per mode (per page for paging)."""
    figures: dict[str, Any] = {}
    conn = await asyncpg.connect(f"postgresql://root@127.0.0.1:5432/{args.database}")
    try:
        await conn.execute("SET max_parallel_workers_per_gather = 0")
        for kind in args.types.split(","):
            series = await sent_statements(args.database, kind, args.requests, args.seed)
            spent: dict[str, list[list[list[float]]]] = defaultdict(list)
            for _ in range(args.rounds):
                for mode in MODES:
                    spent[mode].append(await timed(conn, mode, series))
            pages = max(len(s) for s in series)
            figures[kind] = {
                mode: [statistics.median(r[i][p] for r in runs for i in range(len(series))
                                         if p < len(r[i]))
                       for p in range(pages)]
                for mode, runs in spent.items()
            }
            if args.plans:
                # A next page where there is one: the first page's plan is fixed by its
                # literal limit.
                sent = series[0][min(1, len(series[0]) - 1)]
                for mode in ("force_generic_plan", "force_custom_plan"):
                    print(f"\n--- {kind}, {mode}\n{await plan_text(conn, mode, sent)}")
    finally:
        await conn.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    """Print each kind's median ms per statement under each plan cache mode."""
    args = parse_args(argv)
    figures = asyncio.run(run(args))
    print(f"\n{'kind':22} {'page':>4} " + " ".join(f"{m:>18}" for m in MODES))
    for kind, modes in figures.items():
        for page in range(len(modes["auto"])):
            print(f"{kind:22} {page:4} " + " ".join(f"{modes[m][page]:18.2f}" for m in MODES))
    print(f"\nms per statement, medians over {args.requests} requests x {args.rounds} rounds")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
