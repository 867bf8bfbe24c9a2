"""GraphQL latency benchmark, side by side with the same searches through STAC /search.

Run ``bench/ingest.py`` first (it loads the synthetic ``bench`` collection of
``../shared/peer/gen_items.py``). The app is built with ``stacql.app.create_app`` and
called in process through httpx's ASGI transport, so both APIs are measured the same
way: request parsing, the search in PostgreSQL, and response rendering, without network.
For each kind it sends ``--reps`` requests (after ``--warmup`` untimed ones) with seeded
random parameters, first as a GraphQL ``items`` query, then as the equivalent STAC
``POST /search``, checks both return the same item ids in the same order, and prints
p50 / p95 latency in ms for each API (and, with one client, the median CPU time per
request of this process, the in-process client's share included). With
``--concurrency 1,8`` each kind is also sent by 8 concurrent clients (the same requests,
GraphQL and STAC in turn, half of them each way round), as one server process would
receive them.

    .venv/bin/python bench/graphql.py --reps 100 --concurrency 1,8
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file would then
# shadow the ``graphql`` package (graphql-core) that strawberry imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the packages importable
    sys.path.insert(0, str(REPO))

from stacql.app import create_app  # noqa: E402
from stacql.settings import DatabaseSettings, Settings  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench"
QUERY_BOX = (-120.0, 30.0, -75.0, 47.0)
T0 = datetime(2019, 1, 1, tzinfo=UTC)
T_SPAN_DAYS = 5 * 365

SLIM = "id collectionId datetime"
FULL = "id collectionId datetime geometry properties assets { key href roles } collection { id }"
GRAPHQL = """query($collections: [String!], $bbox: [Float!], $intersects: GeoJSON,
  $datetime: DatetimeRange, $filter: JSON, $sortBy: [SortBy!], $first: Int) {
  items(match: {collections: $collections, bbox: $bbox, intersects: $intersects,
                datetime: $datetime, filter: $filter},
        sortBy: $sortBy, first: $first) { nodes { %s } } }"""


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bbox(rng: random.Random, low: float, high: float) -> list[float]:
    west, south, east, north = QUERY_BOX
    x, y, half = rng.uniform(west, east), rng.uniform(south, north), rng.uniform(low, high) / 2
    return [round(x - half, 4), round(y - half, 4), round(x + half, 4), round(y + half, 4)]


def _window(rng: random.Random, days: int) -> tuple[str, str]:
    start = T0 + timedelta(days=rng.uniform(0, T_SPAN_DAYS - days))
    return _iso(start), _iso(start + timedelta(days=days))


def _polygon(rng: random.Random) -> dict[str, Any]:
    w, s, e, n = _bbox(rng, 1.0, 3.0)
    ring = [[w, s], [e, s], [e, n], [(w + e) / 2, n + 0.5], [w, n], [w, s]]
    return {"type": "Polygon", "coordinates": [ring]}


def _kind_params(kind: str, rng: random.Random) -> dict[str, Any]:
    """STAC search body members of one request of ``kind``."""
    if kind == "bbox":
        return {"bbox": _bbox(rng, 0.5, 2.0)}
    if kind == "bbox_datetime":
        start, end = _window(rng, 90)
        return {"bbox": _bbox(rng, 2.0, 5.0), "datetime": f"{start}/{end}"}
    if kind == "intersects":
        return {"intersects": _polygon(rng)}
    if kind == "filter":
        cover = rng.choice((5, 10, 20, 40))
        return {"filter-lang": "cql2-json", "bbox": _bbox(rng, 2.0, 5.0), "filter": {
            "op": "<=", "args": [{"property": "eo:cloud_cover"}, cover]}}
    if kind == "sortby":
        return {"bbox": _bbox(rng, 3.0, 6.0),
                "sortby": [{"field": "eo:cloud_cover", "direction": "asc"}]}
    if kind in ("page100_full", "page100_slim"):
        return {"bbox": _bbox(rng, 8.0, 12.0), "limit": 100}
    raise ValueError(kind)


KINDS = ("bbox", "bbox_datetime", "intersects", "filter", "sortby", "page100_slim",
         "page100_full")


def graphql_request(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL operation equivalent to a STAC search body."""
    variables: dict[str, Any] = {
        k: body[k] for k in ("collections", "bbox", "intersects", "filter") if k in body
    }
    if "datetime" in body:
        start, end = body["datetime"].split("/")
        variables["datetime"] = {"start": start, "end": end}
    if "sortby" in body:
        variables["sortBy"] = [{"field": s["field"], "direction": s["direction"].upper()}
                               for s in body["sortby"]]
    variables["first"] = body.get("limit", 10)
    selection = FULL if kind == "page100_full" else SLIM
    return {"query": GRAPHQL % selection, "variables": variables}


@dataclass
class Timing:
    """Latencies in ms of one kind through one API."""

    latencies: list[float]
    cpu: list[float] = field(default_factory=list)
    """CPU time in ms of this process per request (c=1 only; the in-process client's
    share too, PostgreSQL's not), steadier than latency on a loaded machine."""

    def p(self, q: float) -> float:
        """The q-quantile (nearest rank)."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _timed(
    client: httpx.AsyncClient, path: str, payload: dict
) -> tuple[float, list, float]:
    start, cpu = time.perf_counter(), time.process_time()
    response = await client.post(path, json=payload)
    elapsed = (time.perf_counter() - start) * 1000
    cpu = (time.process_time() - cpu) * 1000
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise SystemExit(f"{path} failed: {response.status_code} {response.text[:500]}")
    if path == "/graphql":
        ids = [n["id"] for n in body["data"]["items"]["nodes"]]
    else:
        ids = [f["id"] for f in body["features"]]
    return elapsed, ids, cpu


async def _concurrent(
    client: httpx.AsyncClient, path: str, payloads: list[dict], clients: int
) -> list[float]:
    """Latencies of ``payloads`` sent by ``clients`` concurrent senders (closed loops)."""
    pending = iter(payloads)
    latencies: list[float] = []

    async def sender() -> None:
        for payload in pending:
            latencies.append((await _timed(client, path, payload))[0])

    await asyncio.gather(*(sender() for _ in range(clients)))
    return latencies


async def _measure(
    client: httpx.AsyncClient, kind: str, bodies: list[dict], clients: int, warmup: int
) -> tuple[Timing, Timing, int, int]:
    """GraphQL and STAC timings of one kind; the items found and the requests whose
    ids differ (compared one request at a time, with one client)."""
    graphql, stac = Timing([]), Timing([])
    found = mismatches = 0
    if clients == 1:
        for i, body in enumerate(bodies):
            g_ms, g_ids, g_cpu = await _timed(client, "/graphql", graphql_request(kind, body))
            s_ms, s_ids, s_cpu = await _timed(client, "/search", body)
            mismatches += g_ids != s_ids
            if i >= warmup:
                graphql.latencies.append(g_ms)
                stac.latencies.append(s_ms)
                graphql.cpu.append(g_cpu)
                stac.cpu.append(s_cpu)
                found += len(g_ids)
        return graphql, stac, found, mismatches
    timed = bodies[warmup:]
    await _concurrent(client, "/graphql", [graphql_request(kind, b) for b in bodies[:warmup]],
                      clients)
    await _concurrent(client, "/search", bodies[:warmup], clients)
    # Half the requests GraphQL first, half STAC first: both see the same drift.
    for half, graphql_first in ((timed[: len(timed) // 2], True),
                                (timed[len(timed) // 2:], False)):
        passes = [(graphql, "/graphql", [graphql_request(kind, b) for b in half]),
                  (stac, "/search", half)]
        for timing, path, payloads in passes if graphql_first else passes[::-1]:
            timing.latencies.extend(await _concurrent(client, path, payloads, clients))
    return graphql, stac, 0, 0


async def run(args: argparse.Namespace) -> int:
    """Measure every kind; returns the exit status (1 when the APIs disagree)."""
    app = create_app(Settings(database=DatabaseSettings(url=args.database_url)))
    transport = httpx.ASGITransport(app=app)
    mismatches = 0
    rows = []
    concurrencies = [int(c) for c in str(args.concurrency).split(",")]
    # The app's lifespan runs as under uvicorn (it tunes the garbage collector).
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        for kind in args.kinds.split(","):
            rng = random.Random(f"{args.seed}:{kind}")
            bodies = [{"collections": [args.collection], **_kind_params(kind, rng)}
                      for _ in range(args.reps + args.warmup)]
            for clients in concurrencies:
                graphql, stac, found, wrong = await _measure(
                    client, kind, bodies, clients, args.warmup
                )
                mismatches += wrong
                rows.append((kind, clients, graphql, stac, found / args.reps))
    print(f"{'kind':15} {'c':>2} {'GraphQL p50':>11} {'p95':>7} {'STAC p50':>9} {'p95':>7} "
          f"{'ratio p50':>9} {'items':>6} {'CPU GraphQL':>11} {'STAC':>6}")
    for kind, clients, graphql, stac, mean_items in rows:
        items = f"{mean_items:6.1f}" if clients == 1 else f"{'':6}"
        cpu = (f" {statistics.median(graphql.cpu):11.2f} {statistics.median(stac.cpu):6.2f}"
               if graphql.cpu else "")
        print(f"{kind:15} {clients:2} {graphql.p(0.5):11.1f} {graphql.p(0.95):7.1f} "
              f"{stac.p(0.5):9.1f} {stac.p(0.95):7.1f} {graphql.p(0.5) / stac.p(0.5):9.2f} "
              f"{items}{cpu}")
    ones = [r for r in rows if r[1] == 1]
    if ones:
        print(f"\nsame ids in the same order: {'yes' if not mismatches else f'NO ({mismatches})'}"
              f"; GraphQL mean of p50 at c=1 {statistics.mean(r[2].p(0.5) for r in ones):.1f} ms")
    return 1 if mismatches else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--reps", type=int, default=100, help="timed requests per kind")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--concurrency", default="1",
                        help="comma-separated numbers of concurrent clients, e.g. 1,8")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse_args())))
