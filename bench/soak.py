"""Soak test: mixed traffic against ``stacql serve`` with two workers, for minutes.

Starts ``stacql serve`` and two ``stacql worker`` processes on the bench database (run
``bench/ingest.py`` first), creates a write key, then keeps ``--concurrency`` clients
busy for ``--duration`` seconds with a mix of STAC searches, GraphQL searches, item
upserts (GraphQL ``upsertItems`` and STAC ``POST /collections/{id}/items``) and raster
uploads (GraphQL ``uploadAsset`` of ../shared/data/rasters files, extracted by the
workers). It prints, per minute, requests, errors and p95 latency; then totals, the
server's memory (RSS) at start and end, and the upload jobs' outcomes. Exit status 1 when
any response was a 5xx or a transport error (4xx are counted, not failures).

    .venv/bin/python bench/soak.py --duration 600 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from catalog.access import create_key  # noqa: E402
from catalog.db import create_engine, create_sessionmaker, upgrade  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench"
RASTERS = REPO.parent / "shared/data/rasters"
UPLOADS = [RASTERS / "rasterio/byte.tif", RASTERS / "rasterio/float_raster_with_nodata.tif",
           RASTERS / "naip/m_4208701_ne_16_060_20200902.tif"]
QUERY_BOX = (-120.0, 30.0, -75.0, 47.0)


@dataclass
class Stats:
    """What happened, per minute and in all."""

    latencies: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    server_errors: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)


def _bbox(rng: random.Random, size: float) -> list[float]:
    x, y = rng.uniform(QUERY_BOX[0], QUERY_BOX[2]), rng.uniform(QUERY_BOX[1], QUERY_BOX[3])
    return [round(x, 4), round(y, 4), round(x + size, 4), round(y + size, 4)]


def _item(rng: random.Random, collection: str) -> dict[str, Any]:
    w, s, e, n = _bbox(rng, 0.05)
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": f"soak-{uuid.uuid4().hex[:12]}",
        "collection": collection, "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"datetime": "2024-06-01T00:00:00Z", "eo:cloud_cover": rng.randint(0, 100)},
        "assets": {}, "links": [],
    }


async def _one(client: httpx.AsyncClient, rng: random.Random, args: argparse.Namespace,
               stats: Stats) -> str:
    """Send one request of a random kind; returns the kind."""
    roll = rng.random()
    if roll < 0.45:
        kind = "stac_search"
        request = client.post("/search", json={"collections": [args.collection], "limit": 10,
                                               "bbox": _bbox(rng, rng.uniform(0.5, 4))})
    elif roll < 0.80:
        kind = "graphql_search"
        request = client.post("/graphql", json={
            "query": "query($b: [Float!]) { items(bbox: $b, first: 10) "
                     "{ nodes { id datetime geometry } } }",
            "variables": {"b": _bbox(rng, rng.uniform(0.5, 4))},
        })
    elif roll < 0.88:
        kind = "graphql_upsert"
        request = client.post("/graphql", json={
            "query": "mutation($i: [JSON!]!) { upsertItems(items: $i) { inserted } }",
            "variables": {"i": [_item(rng, args.collection) for _ in range(5)]},
        })
    elif roll < 0.96:
        kind = "stac_upsert"
        request = client.post(f"/collections/{args.collection}/items",
                              json=_item(rng, args.collection))
    else:
        kind = "upload"
        path = rng.choice(UPLOADS)
        operations = {"query": "mutation($f: Upload!, $c: String!, $i: String) { uploadAsset("
                               "file: $f, collectionId: $c, itemId: $i, "
                               "datetime: \"2024-01-01T00:00:00Z\") { id } }",
                      "variables": {"f": None, "c": args.collection,
                                    "i": f"soak-upload-{uuid.uuid4().hex[:8]}"}}
        request = client.post("/graphql", data={
            "operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]}),
        }, files={"0": (path.name, path.read_bytes())})
    started = time.monotonic()
    try:
        response = await request
    except httpx.HTTPError as exc:
        stats.server_errors.append(f"{kind}: {type(exc).__name__}: {exc}")
        return kind
    elapsed = (time.monotonic() - started) * 1000
    stats.latencies[int((started - args.t0) // 60)].append(elapsed)
    stats.counts[kind] += 1
    if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in response.text:
        stats.server_errors.append(f"{kind}: {response.status_code} {response.text[:200]}")
    elif response.status_code >= 400 or '"errors"' in response.text:
        stats.counts["4xx_or_typed_error"] += 1
    elif kind == "upload":
        stats.jobs.append(response.json()["data"]["uploadAsset"]["id"])
    return kind


async def _client_loop(base: str, token: str, seed: int, args: argparse.Namespace,
                       stats: Stats) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": token},
                                 timeout=60) as client:
        while time.monotonic() - args.t0 < args.duration:
            await _one(client, rng, args, stats)


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), in MB."""
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


async def _prepare(args: argparse.Namespace) -> str:
    """A write key for the soak (the bench collection must exist), on a database
    migrated to the current schema."""
    await asyncio.to_thread(upgrade, args.database_url)
    engine = create_engine(args.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            _, token = await create_key(session, f"soak-{int(time.time())}", "write",
                                        args.collection)
        return token
    finally:
        await engine.dispose()


async def _job_outcomes(base: str, jobs: list[str]) -> dict[str, int]:
    outcomes: dict[str, int] = defaultdict(int)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for job in jobs:
            body = (await client.post("/graphql", json={
                "query": "query($i: ID!) { job(id: $i) { status } }", "variables": {"i": job},
            })).json()
            outcomes[(body["data"]["job"] or {}).get("status", "missing")] += 1
    return outcomes


def _spawn(args: argparse.Namespace, command: list[str], log: Any) -> subprocess.Popen:
    env = {**os.environ, "STACQL_DATABASE_URL": args.database_url,
           "STACQL_REDIS_URL": args.redis_url, "STACQL_STORAGE_URL": args.storage,
           "STACQL_WORKERS_QUEUES": json.dumps([args.queue])}
    return subprocess.Popen([sys.executable, "-m", "stacql.cli", *command], cwd=REPO,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


async def run(args: argparse.Namespace) -> int:
    """Run the soak and print its report; 1 when a server error happened."""
    token = await _prepare(args)
    base = f"http://127.0.0.1:{args.port}/"
    log = open(args.log, "wb")  # noqa: SIM115 -- kept open for the processes' lifetime
    server = _spawn(args, ["serve", "--port", str(args.port)], log)
    workers = [_spawn(args, ["worker"], log) for _ in range(2)]
    try:
        for _ in range(60):
            try:
                if httpx.get(base, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
        rss_start = _rss_mb(server.pid)
        stats = Stats()
        args.t0 = time.monotonic()
        await asyncio.gather(*(_client_loop(base, token, i, args, stats)
                               for i in range(args.concurrency)))
        elapsed = time.monotonic() - args.t0
        rss_end = _rss_mb(server.pid)
        await asyncio.sleep(5)  # let the workers finish what is queued
        outcomes = await _job_outcomes(base, stats.jobs)
    finally:
        for process in [server, *workers]:
            process.send_signal(signal.SIGTERM)
        for process in [server, *workers]:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
    total = sum(len(v) for v in stats.latencies.values())
    print(f"{'minute':>6} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8}")
    for minute in sorted(stats.latencies):
        values = sorted(stats.latencies[minute])
        print(f"{minute:>6} {len(values):>9} {values[len(values) // 2]:>8.1f} "
              f"{values[int(len(values) * 0.95)]:>8.1f}")
    print(f"\n{total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s) at concurrency "
          f"{args.concurrency}: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.counts.items())))
    print(f"server errors (5xx, transport): {len(stats.server_errors)}")
    for line in stats.server_errors[:10]:
        print("  ", line)
    print(f"server RSS: {rss_start:.0f} MB at start, {rss_end:.0f} MB at end")
    print("upload jobs: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    return 1 if stats.server_errors else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--queue", default="stacql-soak")
    parser.add_argument("--storage", default=str(REPO / "bench/out/soak-assets"))
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--log", default=str(REPO / "bench/out/soak.log"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse_args())))
