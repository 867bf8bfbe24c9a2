"""What the default ``numberMatched`` costs: ``count_within`` beside the page it goes with.

On the bench database (run ``bench/ingest.py`` first), for each query kind of
``bench/search.py`` this times the page (``catalog.search.search``) and then the bounded
count the STAC API adds to it (``catalog.search.count.count_within`` with the default
``CountBudget``, or ``--budget-ms`` / ``--max-rows``), each on its own autocommit
session as the service runs them, and prints p50 / p95 of both in ms and how many of
the counts were given (the others were past the plan's estimate, the row cap or the
time budget):

    .venv/bin/python -m bench.count --reps 100
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.search import (
    BUILDERS,
    DEFAULT_DATABASE_URL,
    KindResult,
    _collection_ids,
    request_pool,
)
from catalog.db import create_engine, create_read_sessionmaker
from catalog.search import build_search, search
from catalog.search.count import CountBudget, count_within

KINDS = [k for k in BUILDERS if k not in ("paging", "count")]


async def _timed(make) -> tuple[float, object]:
    started = time.perf_counter()
    result = await make()
    return (time.perf_counter() - started) * 1000.0, result


async def run(args: argparse.Namespace) -> None:
    """Time pages and their counts for every kind; print one line per kind."""
    engine = create_engine(args.database_url, pool_size=2, parallel_workers_per_gather=0)
    sessions = create_read_sessionmaker(engine)
    budget = CountBudget(args.budget_ms, args.max_rows)
    try:
        async with sessions() as session:
            ids = await _collection_ids(session, args.collection)
        print(f"count cost at {len(ids)} items; budget {budget.budget_ms} ms, "
              f"{budget.max_rows} rows")
        print(f"{'kind':16} {'page p50':>9} {'page p95':>9} {'count p50':>10} "
              f"{'count p95':>10} {'counted':>8}")
        for kind in KINDS:
            pool = request_pool(kind, args.seed, args.reps, args.collection, 10, ids)
            pages, counts, given = [], [], 0
            for params in pool:
                request = build_search(**params)
                async with sessions() as session:
                    pages.append((await _timed(lambda s=session, r=request: search(s, r)))[0])
                async with sessions() as session:
                    elapsed, matched = await _timed(
                        lambda s=session, r=request: count_within(s, r, budget)
                    )
                counts.append(elapsed)
                given += matched is not None
            page, count = KindResult(kind, pages, []), KindResult(kind, counts, [])
            print(f"{kind:16} {page.percentile(50):>9.2f} {page.percentile(95):>9.2f} "
                  f"{count.percentile(50):>10.2f} {count.percentile(95):>10.2f} "
                  f"{given:>4}/{len(pool)}")
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--reps", type=int, default=100, help="requests per kind")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--budget-ms", type=int, default=CountBudget().budget_ms)
    parser.add_argument("--max-rows", type=int, default=CountBudget().max_rows)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
