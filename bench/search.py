"""Search benchmark: ``catalog.search.search`` in process, or /search over HTTP.

In-process mode (the default), on the bench database. Run ``bench/ingest.py`` first: it
loads the synthetic ``bench`` collection. For each
query kind this sends ``--reps`` requests with random but seeded parameters through
``build_search`` + ``search`` on one session (after a few untimed warm-up requests) and
prints the p50 / p95 / mean latency in milliseconds and the mean number of items a
request returns. The request mix follows ``../shared/peer/search_bench.py``: query
areas are drawn inside the contiguous US, time windows inside 2019-2023.

    .venv/bin/python bench/search.py --reps 200

HTTP mode (``--base-url``): the peer's ``../shared/peer/search_bench.py`` request mix
against a running ``stacql serve`` and, with ``--peer-url``, against the peer too, back
to back (see ``bench/search_http.py``):

    .venv/bin/python bench/search.py --base-url http://127.0.0.1:8080 \
        --peer-url http://127.0.0.1:8081 --duration 20 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the catalog importable
    sys.path.insert(0, str(REPO))

from bench.search_http import DEFAULT_TYPES, PEER_BENCH, main_http  # noqa: E402
from catalog.db import create_engine, create_read_sessionmaker  # noqa: E402
from catalog.search import build_search, search  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench"
# Centres of query areas are drawn from this box (inside the contiguous US), as the peer's.
QUERY_BOX = (-120.0, 30.0, -75.0, 47.0)
T0 = datetime(2019, 1, 1, tzinfo=UTC)
T_SPAN_DAYS = 5 * 365
PAGING_PAGES = 5
PLATFORMS = ("sentinel-2a", "sentinel-2b", "landsat-8", "landsat-9", "naip")
CLOUD_COVERS = (5, 10, 20, 40)

Params = dict[str, Any]
Context = tuple[random.Random, str, int, list[str]]  # rng, collection, limit, ids


def _rfc3339(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bbox(rng: random.Random, low: float, high: float) -> list[float]:
    """A square of side ``low``..``high`` degrees centred inside the query box."""
    west, south, east, north = QUERY_BOX
    x, y = rng.uniform(west, east), rng.uniform(south, north)
    half = rng.uniform(low, high) / 2.0
    return [round(x - half, 4), round(y - half, 4), round(x + half, 4), round(y + half, 4)]


def _polygon(rng: random.Random) -> dict[str, Any]:
    """A random convex-ish hexagon 0.2-1 degree across (counter-clockwise ring)."""
    west, south, east, north = QUERY_BOX
    x, y = rng.uniform(west, east), rng.uniform(south, north)
    ring = []
    for angle in sorted(rng.uniform(0, 360) for _ in range(6)):
        radius = rng.uniform(0.2, 1.0)
        ring.append([round(x + radius * math.cos(math.radians(angle)), 4),
                     round(y + radius * math.sin(math.radians(angle)), 4)])
    ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}


def _interval(rng: random.Random, days: int = 30) -> str:
    start = T0 + timedelta(days=rng.randrange(T_SPAN_DAYS - days))
    return f"{_rfc3339(start)}/{_rfc3339(start + timedelta(days=days))}"


def _open_interval(rng: random.Random) -> str:
    return f"../{_rfc3339(T0 + timedelta(days=rng.randrange(30, T_SPAN_DAYS)))}"


# Each kind draws the build_search parameters of one request.
BUILDERS: dict[str, Callable[[Context], Params]] = {
    "bbox_small": lambda c: {"bbox": _bbox(c[0], 0.25, 2.0)},
    "bbox_large": lambda c: {"bbox": _bbox(c[0], 10.0, 20.0)},
    "bbox_datetime": lambda c: {"bbox": _bbox(c[0], 0.25, 2.0), "datetime": _interval(c[0])},
    "intersects": lambda c: {"intersects": _polygon(c[0])},
    "datetime": lambda c: {"datetime": _interval(c[0])},
    "cql2_text": lambda c: {
        "filter": f"eo:cloud_cover < {c[0].choice(CLOUD_COVERS)} "
                  f"AND platform = '{c[0].choice(PLATFORMS)}'",
        "filter_lang": "cql2-text",
    },
    "cql2_json": lambda c: {
        "filter": {"op": "<=", "args": [{"property": "eo:cloud_cover"},
                                        c[0].choice(CLOUD_COVERS)]},
        "filter_lang": "cql2-json",
    },
    "sortby_datetime": lambda c: {
        "datetime": _open_interval(c[0]),
        "sortby": [{"field": "properties.datetime", "direction": "desc"}],
    },
    "sortby_property": lambda c: {
        "bbox": _bbox(c[0], 3.0, 3.0),
        "sortby": [{"field": "properties.eo:cloud_cover", "direction": "asc"}],
    },
    "ids": lambda c: {"ids": c[0].sample(c[3], min(10, len(c[3])))},
    "paging": lambda c: {"bbox": _bbox(c[0], 3.0, 3.0)},
    "count": lambda c: {"bbox": _bbox(c[0], 0.25, 2.0), "count": True},
}


def request_pool(kind: str, seed: int, size: int, collection: str, limit: int,
                 ids: list[str]) -> list[Params]:
    """``size`` requests of one kind; one seeded stream per kind, so adding a kind never
    changes the requests of another."""
    context = (random.Random(f"{seed}:{kind}"), collection, limit, ids)
    return [
        {"collections": [collection], "limit": limit, **BUILDERS[kind](context)}
        for _ in range(size)
    ]


@dataclass(frozen=True)
class KindResult:
    """Latencies (ms) and items returned of the timed requests of one kind."""

    kind: str
    latencies_ms: list[float]
    features: list[int]

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, as the peer's search_bench."""
        ordered = sorted(self.latencies_ms)
        rank = max(0, min(len(ordered) - 1, math.ceil(p / 100.0 * len(ordered)) - 1))
        return ordered[rank]


async def run_request(session: AsyncSession, kind: str, params: Params) -> int:
    """One request (for ``paging``: the first page and up to 5 next pages); returns the
    number of items it returned. The session's transaction ends with it."""
    try:
        page = await search(session, build_search(**params))
        returned = page.returned
        for _ in range(PAGING_PAGES if kind == "paging" else 0):
            if page.next_token is None:
                break
            page = await search(session, build_search(**params, token=page.next_token))
            returned += page.returned
        return returned
    finally:
        await session.rollback()


async def run_kind(
    session: AsyncSession, kind: str, pool: list[Params], warmup: int
) -> KindResult:
    """Send the pool's requests in order after ``warmup`` untimed ones."""
    for params in pool[:warmup]:
        await run_request(session, kind, params)
    latencies, features = [], []
    for params in pool[warmup:]:
        started = time.perf_counter()
        features.append(await run_request(session, kind, params))
        latencies.append((time.perf_counter() - started) * 1000.0)
    return KindResult(kind, latencies, features)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--reps", type=int, default=100, help="timed requests per kind")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per kind")
    parser.add_argument("--limit", type=int, default=10, help="items per page")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--kinds", default=",".join(BUILDERS), help="comma-separated subset of the kinds"
    )
    http = parser.add_argument_group("HTTP mode")
    http.add_argument("--base-url", help="a running stacql serve: switches to HTTP mode")
    http.add_argument("--peer-url", help="the peer (stac-fastapi-pgstac), run back to back")
    http.add_argument("--types", default=",".join(DEFAULT_TYPES),
                      help="comma-separated request types of search_bench.py")
    http.add_argument("--concurrency", default="1,8", help="comma-separated client counts")
    http.add_argument("--duration", type=float, default=20.0, help="seconds per run")
    http.add_argument("--warmup-seconds", type=float, default=3.0, help="untimed, per run")
    http.add_argument("--rounds", type=int, default=1, help="runs per type and server; "
                      "medians are reported, the server order alternates")
    http.add_argument("--verify", type=int, default=20,
                      help="requests per type in the id-digest pass (0: none)")
    http.add_argument("--json-out", help="write every run here as JSON")
    http.add_argument("--peer-bench", default=str(PEER_BENCH), help="search_bench.py to use")
    return parser.parse_args(argv)


async def _collection_ids(session: AsyncSession, collection: str) -> list[str]:
    rows = await session.execute(
        text("SELECT id FROM items WHERE collection_id = :c ORDER BY id"), {"c": collection}
    )
    return [row[0] for row in rows.all()]


async def _collection_size(session: AsyncSession, collection: str) -> int:
    rows = await session.execute(
        text("SELECT count(*) FROM items WHERE collection_id = :c"), {"c": collection}
    )
    return int(rows.scalar_one())


def print_table(results: list[KindResult], loaded: int) -> None:
    """One line per kind: latency p50 / p95 / mean (ms) and mean items returned."""
    head = (f"{'kind':18} {'reps':>5} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} "
            f"{'items':>6}")
    print(f"\nsearch latency at {loaded} items (in process, one session)")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r.kind:18} {len(r.latencies_ms):>5} {r.percentile(50):>8.2f} "
              f"{r.percentile(95):>8.2f} {statistics.fmean(r.latencies_ms):>8.2f} "
              f"{statistics.fmean(r.features):>6.1f}")
    print(f"\npaging = first page + up to {PAGING_PAGES} next pages (one op); "
          "count = bbox_small with count=True")


async def run(args: argparse.Namespace) -> list[KindResult]:
    """Run every requested kind against the bench database."""
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(BUILDERS))
    if unknown:
        raise SystemExit(f"unknown kinds {unknown}; choose among {', '.join(BUILDERS)}")
    # The service's connection settings (see stacql/settings.py): no parallel workers,
    # statements in autocommit.
    engine = create_engine(args.database_url, pool_size=1, parallel_workers_per_gather=0)
    try:
        async with create_read_sessionmaker(engine)() as session:
            # The ids only for the kind that asks for them: at 10M items they take
            # seconds and a gigabyte to hold.
            ids = await _collection_ids(session, args.collection) if "ids" in kinds else []
            loaded = len(ids) or await _collection_size(session, args.collection)
            await session.rollback()
            if not loaded:
                raise SystemExit(f"collection {args.collection!r} is empty: run bench/ingest.py")
            results = []
            for kind in kinds:
                pool = request_pool(kind, args.seed, args.warmup + args.reps,
                                    args.collection, args.limit, ids)
                results.append(await run_kind(session, kind, pool, args.warmup))
                print(f"{kind:18} done", file=sys.stderr, flush=True)
        print_table(results, loaded)
        return results
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    args = parse_args(argv)
    if args.base_url:
        return main_http(args)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
