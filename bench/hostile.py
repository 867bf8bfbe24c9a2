"""What each hostile request of issue 16 costs one worker of a live ``stacql serve``.

    .venv/bin/python bench/hostile.py [--items 20000] [--fresh] [--only NAME ...]

Loads ``--items`` synthetic items (a public collection ``bench``, a private ``secret``)
into ``stacql_bench_hostile``, starts ``stacql serve --workers 1`` and sends each case in
turn. For each it prints the status and error code, the wall time, the worker's CPU time
(all its threads), the growth of its peak resident memory (``VmHWM``, reset before each
case through ``/proc/<pid>/clear_refs``) and of its resident memory after the answer, and
the slowest answer to ``GET /`` polled every 50 ms meanwhile (how long the event loop was
kept from other requests). The upload cases of the issue need an RQ worker and are
covered by tests/workers instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.servers import REPO, free_port, serve
from tests.support.hostile import (
    nested_collection,
    random_polygon,
    star_polygon,
)

DATABASE = "postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench_hostile"
MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One hostile request: ``send(client, keys)`` returns the response."""

    name: str
    send: Callable[[httpx.Client, dict[str, str]], httpx.Response]


def _post_json(path: str, body: Any, key: str | None = None) -> Callable[..., httpx.Response]:
    # orjson stops at 255 levels of nesting; the hostile bodies go deeper.
    return _post_raw(path, json.dumps(body).encode(), key)


def _post_raw(path: str, content: bytes, key: str | None = None) -> Callable[..., httpx.Response]:
    def send(client: httpx.Client, keys: dict[str, str]) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if key:
            headers["x-api-key"] = keys[key]
        return client.post(path, content=content, headers=headers)

    return send


def _get(path: str, params: dict[str, str] | None = None, **headers: str) -> Callable[..., Any]:
    def send(client: httpx.Client, keys: dict[str, str]) -> httpx.Response:
        sent = {name.replace("_", "-"): keys.get(v, v) for name, v in headers.items()}
        return client.get(path, params=params, headers=sent)

    return send


def _graphql(query: str, key: str | None = None, **variables: Any) -> Callable[..., Any]:
    return _post_raw("/graphql", orjson.dumps({"query": query, "variables": variables}), key)


def _fragments(levels: int) -> str:
    parts = ["fragment F0 on Query { items(first: 1) { nodes { id } } }"]
    parts += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels)]
    return f"query {{ ...F{levels - 1} }} " + " ".join(parts)


def _numbers(size: int) -> bytes:
    """``size`` bytes of a JSON list of numbers, the costliest JSON to decode per byte."""
    return b",".join([b"0.5"] * (size // 4))


ITEM_FIELDS = ("id collectionId datetime startDatetime endDatetime geometry bbox properties "
               "stacVersion stacExtensions links { rel href type } "
               "assets { key href mediaType roles stac }")


def cases() -> list[Case]:
    """The cases of issue 16 and their neighbours, in its order."""
    many = [f"id-{i}" for i in range(40_000)]
    big_or = {"op": "or", "args": [{"op": "=", "args": [{"property": "gsd"}, i]}
                                   for i in range(33_000)]}
    junk = b'{"type": "Feature", "id": "junk", "properties": {"junk": [' + _numbers(48 * MB)
    junk += b"]}}"
    href = "file:///var/stacql/secret/secret-0/data.tif"
    stolen = {"type": "Feature", "stac_version": "1.0.0", "id": "stolen", "bbox": [0, 0, 1, 1],
              "geometry": {"type": "Point", "coordinates": [0.5, 0.5]},
              "properties": {"datetime": "2020-01-01T00:00:00Z"},
              "assets": {"data": {"href": href, "roles": ["data"]}}, "links": []}
    mutation = ("mutation($items: [JSON!]!) { upsertItems(collectionId: \"bench\", items: $items)"
                " { __typename } }")
    return [
        Case("1 graphql 40 doubling fragments", _graphql(_fragments(40))),
        Case("2 search star 20,001 vertices", _post_json(
            "/search", {"intersects": star_polygon(20_001)})),
        Case("2 search random 20,000 vertices", _post_json(
            "/search", {"intersects": random_polygon(20_000)})),
        Case("2 search random 250 vertices", _post_json(
            "/search", {"intersects": random_polygon(250)})),
        Case("2 graphql items random 200", _graphql(
            "query($g: GeoJSON) { items(intersects: $g) { nodes { id } } }",
            g=random_polygon(200))),
        Case("2 graphql aggregate random 200", _graphql(
            "query($g: GeoJSON) { aggregate(intersects: $g) { totalCount } }",
            g=random_polygon(200))),
        Case("3 item href into a private collection", _post_json(
            "/collections/bench/items", stolen, key="bench-writer")),
        Case("4 search in 33,000 values", _post_json("/search", {
            "filter-lang": "cql2-json",
            "filter": {"op": "in", "args": [{"property": "gsd"}, list(range(33_000))]}})),
        Case("4 search ids 40,000", _post_json("/search", {"ids": many})),
        Case("4 search collections 40,000", _post_json("/search", {"collections": many})),
        Case("4 search or of 33,000", _post_json(
            "/search", {"filter-lang": "cql2-json", "filter": big_or})),
        Case("4 graphql or of 33,000", _graphql(
            "query($v: JSON) { aggregate(filter: $v) { totalCount } }", v=big_or)),
        Case("5 search geometrycollection 200 deep", _post_json(
            "/search", {"intersects": nested_collection(200)})),
        Case("5 graphql variables 1,100 deep", _post_raw(
            "/graphql", b'{"query": "{ items { nodes { id } } }", "variables": {"v": '
            + b"[" * 1_100 + b"1" + b"]" * 1_100 + b"}}")),
        Case("7 queryables (anonymous)", _get("/queryables")),
        Case("7 job of a private upload (anonymous)", _graphql(
            'query($id: ID!) { job(id: $id) { id } }', id=str(uuid.uuid4()))),
        Case("7 valid key, wrong bearer", _get(
            "/search", x_api_key="bench-writer", authorization="Bearer wrong")),
        Case("7 NUL in an id", _get("/search", {"ids": "a\0b"})),
        Case("8 filter gsd = NaN", _get("/search", {"filter": "gsd = NaN"})),
        Case("8 histogram of 1,000 buckets", _get("/aggregate", {
            "aggregations": "property_histogram", "property": "gsd", "buckets": "1000"})),
        Case("413 search body of 60 MB", _post_raw(
            "/search", b'{"bbox": [' + _numbers(60 * MB) + b"]}")),
        Case("write 48 MB, anonymous", _post_raw("/collections/bench/items", junk)),
        Case("write 48 MB, key of another collection", _post_raw(
            "/collections/secret/items", junk, key="bench-writer")),
        Case("write 48 MB, allowed (refused after parsing)", _post_raw(
            "/collections/bench/items", junk, key="bench-writer")),
        Case("graphql mutation 48 MB, anonymous", _post_raw(
            "/graphql", b'{"query": ' + orjson.dumps(mutation)
            + b', "variables": {"items": [' + _numbers(48 * MB) + b"]}}")),
        Case("graphql page of 1,000 items, all fields", _graphql(
            f"{{ items(first: 1000) {{ nodes {{ {ITEM_FIELDS} }} }} }}")),
    ]


# --- the worker's figures ---------------------------------------------------------------

def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM back to the current RSS


class Poller:
    """``GET /`` every 50 ms in a thread; ``worst`` is its slowest answer (seconds)."""

    def __init__(self, url: str) -> None:
        self.url, self.worst, self._stop = url, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=300) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                client.get("/")
                self.worst = max(self.worst, time.perf_counter() - started)
                self._stop.wait(0.05)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "(not JSON)"
    if isinstance(body, dict) and body.get("errors"):
        return str(body["errors"][0].get("extensions", {}).get("code", ""))
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def run_case(case: Case, url: str, pid: int, keys: dict[str, str]) -> str:
    """Send one case; the table row of what it cost."""
    rss = _status_kb(pid, "VmRSS")
    _reset_peak(pid)
    cpu = _cpu_seconds(pid)
    with httpx.Client(base_url=url, timeout=600) as client, Poller(url) as poller:
        started = time.perf_counter()
        try:
            response = case.send(client, keys)
            status, code = str(response.status_code), _code(response)
        except httpx.HTTPError as exc:
            status, code = "-", type(exc).__name__
        wall = time.perf_counter() - started
    time.sleep(0.2)
    peak = (_status_kb(pid, "VmHWM") - rss) / 1024
    kept = (_status_kb(pid, "VmRSS") - rss) / 1024
    return (f"{case.name:<46} {status:>6} {code:<26} {wall:8.2f} {_cpu_seconds(pid) - cpu:8.2f}"
            f" {peak:9.0f} {kept:8.0f} {poller.worst:8.2f}")


# --- the catalog it runs against ------------------------------------------------------------

def _items(count: int, collection: str) -> list[dict[str, Any]]:
    side = math.ceil(math.sqrt(count))
    docs = []
    for i in range(count):
        x, y = -170 + 340 * (i % side) / side, -80 + 160 * (i // side) / side
        docs.append({
            "type": "Feature", "stac_version": "1.0.0", "id": f"{collection}-{i}",
            "bbox": [x, y, x + 0.5, y + 0.5],
            "geometry": {"type": "Polygon", "coordinates": [[
                [x, y], [x + 0.5, y], [x + 0.5, y + 0.5], [x, y + 0.5], [x, y]]]},
            "properties": {"datetime": f"2020-01-{1 + i % 28:02d}T00:00:00Z", "gsd": i % 60,
                           "platform": f"sat-{i % 7}", "eo:cloud_cover": i % 100},
            "assets": {"data": {"href": f"https://example.com/{collection}/{i}.tif",
                                "type": "image/tiff; application=geotiff", "roles": ["data"]}},
            "links": [],
        })
    return docs


def _collection(collection_id: str) -> dict[str, Any]:
    return {"type": "Collection", "stac_version": "1.0.0", "id": collection_id,
            "description": "bench/hostile.py", "license": "other", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [[None, None]]}}}


async def _load(url: str, count: int) -> dict[str, str]:
    from catalog.access import create_key
    from catalog.access.visibility import set_private
    from catalog.db import create_engine, create_sessionmaker
    from catalog.ingest import create_collection
    from catalog.operations.transactions import insert_items

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        for collection_id in ("bench", "secret"):
            await create_collection(session, _collection(collection_id))
        await set_private(session, "secret", True)
        _, token = await create_key(session, "bench-writer", "write", "bench")
    for start in range(0, count, 5_000):
        async with sessions() as session, session.begin():
            batch = _items(count, "bench")[start:start + 5_000]
            await insert_items(session, "bench", batch)
    async with sessions() as session, session.begin():
        await insert_items(session, "secret", _items(10, "secret"))
    await engine.dispose()
    return {"bench-writer": token}


def prepare(url: str, count: int) -> dict[str, str]:
    """A fresh database with the two collections and a write key bound to ``bench``."""
    name = url.rsplit("/", 1)[1]
    if not name.startswith("stacql_bench"):
        raise SystemExit("refusing to drop a database not named stacql_bench*")
    for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-qc", sql],
                       check=True)
    subprocess.run([sys.executable, "-m", "stacql.cli", "db", "upgrade"], cwd=REPO, check=True,
                   env={**os.environ, "STACQL_DATABASE_URL": url}, capture_output=True)
    return asyncio.run(_load(url, count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DATABASE)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--only", nargs="*", help="run the cases whose name has these words")
    args = parser.parse_args()
    keys = prepare(args.database_url, args.items)
    port = free_port()
    env = {"STACQL_DATABASE_URL": args.database_url, "STACQL_API_WORKERS": "1",
           "STACQL_REDIS_URL": os.environ.get("STACQL_REDIS_URL", "redis://127.0.0.1:6379/3")}
    command = [sys.executable, "-m", "stacql.cli", "serve", "--port", str(port), "--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    with serve(command, env, url + "/") as _, httpx.Client() as probe:
        pid = _server_pid(port)
        probe.get(url + "/search")  # warm the worker up before the first figure
        print(f"worker pid {pid}, {args.items} items; RSS at start "
              f"{_status_kb(pid, 'VmRSS') / 1024:.0f} MB\n")
        print(f"{'case':<46} {'status':>6} {'code':<26} {'wall s':>8} {'cpu s':>8}"
              f" {'peak MB':>9} {'kept MB':>8} {'GET / s':>8}")
        for case in cases():
            if args.only and not any(word in case.name for word in args.only):
                continue
            print(run_case(case, url, pid, keys), flush=True)


def _server_pid(port: int) -> int:
    """The process listening on ``port`` (with one worker, uvicorn serves in-process)."""
    found = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True,
                           text=True, check=True).stdout
    return int(found.split("pid=")[1].split(",")[0])


if __name__ == "__main__":
    main()
