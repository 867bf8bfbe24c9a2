"""Asset serving: stacql's asset endpoint against nginx serving the same file.

Both serve a 256 MiB file of the local store on loopback: stacql through
``/collections/bench/items/blob/assets/data`` (``stacql serve``, access checks and all),
nginx as a static file (``apt-get install nginx-light``; its ``sendfile`` path is the
target, ``python -m http.server`` would be the floor and serves no ranges), and stacql
behind that nginx with ``STACQL_ASSETS_ACCEL_REDIRECT`` (stacql checks access, nginx
sends the bytes), as a production deployment would run it. Each round,
in alternating order: a full download (MB/s), then 1,000 random 16 KiB ranges at
concurrency 8 (ranges/s, MB/s and p50). Medians over rounds.

    .venv/bin/python bench/assets.py [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make bench/ importable as a package
    sys.path.insert(0, str(REPO))

from bench.servers import DATABASE, OUT, free_port, serve  # noqa: E402

STORE = OUT / "assets-store"
BLOB = STORE / "bench" / "blob.bin"
BLOB_SIZE = 256 * 1024 * 1024
RANGE = 16 * 1024
NGINX_CONF = """worker_processes {workers};
daemon off; pid {dir}/nginx.pid; error_log {dir}/error.log;
events {{ worker_connections 256; }}
http {{ access_log off; sendfile on; tcp_nopush on;
  upstream stacql {{ server 127.0.0.1:{accel_port}; keepalive 16; }}
  server {{ listen 127.0.0.1:{port}; root {root}; }}
  server {{ listen 127.0.0.1:{front_port};
    location /_store/ {{ internal; alias {root}/; }}
    location / {{ proxy_pass http://stacql; proxy_http_version 1.1;
                 proxy_set_header Connection ""; proxy_set_header Host $host; }} }} }}
"""


def make_blob() -> None:
    if BLOB.exists() and BLOB.stat().st_size == BLOB_SIZE:
        return
    BLOB.parent.mkdir(parents=True, exist_ok=True)
    with BLOB.open("wb") as out:
        for _ in range(BLOB_SIZE // (1 << 20)):
            out.write(os.urandom(1 << 20))


def load_catalog() -> None:
    env = {**os.environ, "STACQL_DATABASE_URL": DATABASE, "STACQL_STORAGE_URL": str(STORE)}
    stacql = str(REPO / ".venv" / "bin" / "stacql")
    subprocess.run([stacql, "db", "upgrade"], check=True, env=env, capture_output=True)
    collection = {"type": "Collection", "id": "bench", "stac_version": "1.1.0",
                  "description": "assets", "license": "other", "links": [],
                  "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                             "temporal": {"interval": [[None, None]]}}}
    item = {"type": "Feature", "stac_version": "1.1.0", "id": "blob", "collection": "bench",
            "geometry": {"type": "Point", "coordinates": [0, 0]}, "bbox": [0, 0, 0, 0],
            "links": [], "properties": {"datetime": "2024-01-01T00:00:00Z"},
            "assets": {"data": {"href": BLOB.resolve().as_uri(),
                                "type": "application/octet-stream", "roles": ["data"]}}}
    (OUT / "assets-collection.json").write_bytes(orjson.dumps(collection))
    (OUT / "assets-item.json").write_bytes(orjson.dumps(item))
    subprocess.run([stacql, "ingest", str(OUT / "assets-collection.json"),
                    str(OUT / "assets-item.json")], check=True, env=env, capture_output=True)


def full_download(url: str) -> float:
    """MB/s of one whole download, streamed and discarded."""
    started = time.perf_counter()
    received = 0
    with httpx.stream("GET", url, timeout=120) as response:
        for chunk in response.iter_raw(1 << 20):
            received += len(chunk)
    assert received == BLOB_SIZE, received
    return received / (time.perf_counter() - started) / 1e6


async def random_ranges(url: str, count: int, concurrency: int, seed: int) -> tuple[float, float]:
    """(ranges/s, p50 ms) of ``count`` random 16 KiB ranges with ``concurrency`` loops."""
    rng = random.Random(seed)
    starts = [rng.randrange(0, BLOB_SIZE - RANGE) for _ in range(count)]
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def loop() -> None:
            while starts:
                start = starts.pop()
                began = time.perf_counter()
                ranged = {"Range": f"bytes={start}-{start + RANGE - 1}"}
                response = await client.get(url, headers=ranged)
                assert response.status_code == 206 and len(response.content) == RANGE
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return count / elapsed, statistics.median(latencies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ranges", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("nginx") is None:
        raise SystemExit("nginx is missing: apt-get install -y nginx-light")
    make_blob()
    load_catalog()
    ours_port, accel_port, nginx_port, front_port = (free_port() for _ in range(4))
    workdir = Path(tempfile.mkdtemp(prefix="stacql-nginx-"))
    (workdir / "nginx.conf").write_text(NGINX_CONF.format(
        workers=args.workers, dir=workdir, port=nginx_port, root=STORE.resolve(),
        front_port=front_port, accel_port=accel_port))
    stacql = str(REPO / ".venv" / "bin" / "stacql")
    ours_cmd = [stacql, "serve", "--port", str(ours_port), "--workers", str(args.workers)]
    accel_cmd = [stacql, "serve", "--port", str(accel_port), "--workers", str(args.workers)]
    nginx_cmd = ["nginx", "-c", str(workdir / "nginx.conf"), "-p", str(workdir)]
    env = {"STACQL_DATABASE_URL": DATABASE, "STACQL_STORAGE_URL": str(STORE)}
    path = "/collections/bench/items/blob/assets/data"
    urls = {"stacql": f"http://127.0.0.1:{ours_port}{path}",
            "stacql+nginx": f"http://127.0.0.1:{front_port}{path}",
            "nginx": f"http://127.0.0.1:{nginx_port}/bench/blob.bin"}
    results: dict[str, dict[str, list[float]]] = {name: {} for name in urls}
    accel_env = {**env, "STACQL_ASSETS_ACCEL_REDIRECT": "/_store/"}
    with serve(ours_cmd, env, f"http://127.0.0.1:{ours_port}/"), \
            serve(accel_cmd, accel_env, f"http://127.0.0.1:{accel_port}/"), \
            serve(nginx_cmd, {}, f"http://127.0.0.1:{nginx_port}/"):
        for index in range(args.rounds):
            for name in (list(urls) if index % 2 == 0 else list(reversed(urls))):
                figures = results[name]
                figures.setdefault("full MB/s", []).append(full_download(urls[name]))
                rate, p50 = asyncio.run(random_ranges(urls[name], args.ranges, 8, index))
                figures.setdefault("ranges/s", []).append(rate)
                figures.setdefault("range MB/s", []).append(rate * RANGE / 1e6)
                figures.setdefault("range p50 ms", []).append(p50)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"asset serving: {BLOB_SIZE >> 20} MiB file, {args.ranges} random {RANGE >> 10} KiB "
          f"ranges at concurrency 8, {args.rounds} rounds (medians), {args.workers} workers each")
    print(f"{'':14} {'stacql':>10} {'stacql+nginx':>13} {'nginx':>10}   (ratios to nginx)")
    for metric in results["stacql"]:
        ours, fronted, theirs = (statistics.median(results[name][metric]) for name in urls)
        print(f"{metric:14} {ours:>10.1f} {fronted:>13.1f} {theirs:>10.1f}   "
              f"{ours / theirs:.2f} / {fronted / theirs:.2f}")


if __name__ == "__main__":
    main()
