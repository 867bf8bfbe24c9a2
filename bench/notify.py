"""Saved-search benchmark: how much a bulk load slows when 100 saved searches have webhooks.

Loads the same 10,000 generated items (the peer's ``gen_items.py``, as bench/ingest.py)
into an emptied collection, alternating rounds:

* ``baseline``: no saved search (the ``items`` triggers queue nothing);
* ``searches``: 100 saved searches with webhooks (random 5°×5° areas of the items' CONUS
  extent, half with a year's time window, a third with a cloud-cover filter); the load
  also queues each written item for matching;
* ``concurrent``: as ``searches``, with a matcher running beside the load as a worker
  would (a pass every 0.2 s): load time, and time until every item is matched.

After each ``searches`` round the matching is timed on its own (``catalog.saved
.match_changes`` until the queue is empty). Prints the median of each figure and the
slow-down of the load against the baseline. Notices are written but not posted (posting
happens later, in the workers, and does not touch the load).

    .venv/bin/python bench/notify.py --rounds 3 --fresh
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the catalog importable
    sys.path.insert(0, str(REPO))

from bench.ingest import bench_files, drop_database  # noqa: E402
from catalog.access import Principal  # noqa: E402
from catalog.db import create_engine, create_sessionmaker, upgrade  # noqa: E402
from catalog.ingest import load_path  # noqa: E402
from catalog.operations import SavedSearchOperations  # noqa: E402
from catalog.saved import SavedSearchInput, match_changes  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench_saved17_notify"
HOOK = "https://93.184.215.14/hook"  # a public address: checked without DNS, never posted
OWNER = Principal("read", None, "token of 'bench'", subject="bench")
Sessions = async_sessionmaker[AsyncSession]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="items per load")
    parser.add_argument("--searches", type=int, default=100, help="saved searches")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    return parser.parse_args(argv)


def saved_search_bodies(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` varied searches over the generated items' extent (CONUS, 2019-2023)."""
    rng = random.Random(seed)
    bodies = []
    for i in range(count):
        west, south = rng.uniform(-124, -72), rng.uniform(25, 44)
        body: dict[str, Any] = {"bbox": [west, south, west + 5, south + 5]}
        if i % 2 == 0:
            year = rng.randrange(2019, 2024)
            body["datetime"] = f"{year}-01-01T00:00:00Z/{year}-12-31T23:59:59Z"
        if i % 3 == 0:
            body["filter"] = {"op": "<", "args": [{"property": "eo:cloud_cover"},
                                                  rng.randrange(5, 60)]}
        bodies.append(body)
    return bodies


async def _reset(sessions: Sessions, with_searches: list[dict[str, Any]] | None) -> None:
    async with sessions() as session, session.begin():
        await session.execute(text(
            "TRUNCATE items, saved_searches, saved_search_changes,"
            " saved_search_deletions CASCADE"
        ))
    if with_searches:
        operations = SavedSearchOperations(sessions)
        for i, body in enumerate(with_searches):
            await operations.create(OWNER, SavedSearchInput(f"search {i}", body, HOOK))


async def _match_until_empty(sessions: Sessions) -> int:
    notices = 0
    while True:
        async with sessions() as session, session.begin():
            report = await match_changes(session)
        notices += sum(report.notices.values())
        if not report.changes:
            return notices


async def _matcher(sessions: Sessions, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await _match_until_empty(sessions)
        await asyncio.sleep(0.2)


async def _load(sessions: Sessions, items: Path) -> float:
    started = time.perf_counter()
    report = await load_path(sessions, items)
    if not report.ok or report.items.inserted == 0:
        raise SystemExit(f"the load failed: {report.errors[:3]}")
    return time.perf_counter() - started


async def _round(
    sessions: Sessions, items: Path, kind: str, bodies: list[dict[str, Any]]
) -> dict[str, float]:
    await _reset(sessions, None if kind == "baseline" else bodies)
    if kind != "concurrent":
        figures = {"load": await _load(sessions, items)}
        if kind == "searches":
            started = time.perf_counter()
            figures["notices"] = await _match_until_empty(sessions)
            figures["match"] = time.perf_counter() - started
        return figures
    stop = asyncio.Event()
    matcher = asyncio.create_task(_matcher(sessions, stop))
    started = time.perf_counter()
    load = await _load(sessions, items)
    stop.set()
    await matcher
    await _match_until_empty(sessions)
    return {"load": load, "all matched": time.perf_counter() - started}


async def run(args: argparse.Namespace, items: Path, collection: Path) -> dict[str, list]:
    """Alternate the rounds; returns each figure's values by round kind."""
    engine = create_engine(args.database_url, pool_size=4)
    sessions = create_sessionmaker(engine)
    bodies = saved_search_bodies(args.searches, args.seed)
    figures: dict[str, list[float]] = {}
    try:
        await load_path(sessions, collection)
        for r in range(args.rounds):
            for kind in ("baseline", "searches", "concurrent"):
                result = await _round(sessions, items, kind, bodies)
                print(f"round {r + 1} {kind:10} " + "  ".join(
                    f"{name} {value:.2f}" for name, value in result.items()
                ), flush=True)
                for name, value in result.items():
                    figures.setdefault(f"{kind} {name}", []).append(value)
    finally:
        await engine.dispose()
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the medians."""
    args = parse_args(argv)
    items, collection = bench_files(args.n, args.seed)
    if args.fresh:
        drop_database(args.database_url)
    upgrade(args.database_url)
    figures = asyncio.run(run(args, items, collection))
    median = {name: statistics.median(values) for name, values in figures.items()}
    print(f"\nmedians of {args.rounds} rounds, {args.n} items, {args.searches} saved searches:")
    for name, value in median.items():
        print(f"  {name:26} {value:9.2f}")
    base = median["baseline load"]
    for kind in ("searches", "concurrent"):
        print(f"{kind} load vs baseline: {100 * (median[f'{kind} load'] / base - 1):+.1f}%")
    print(f"matching after the load: {median['searches match']:.2f} s "
          f"({args.n / median['searches match']:.0f} items/s against {args.searches} searches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
