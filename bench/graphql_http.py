"""What GET, persisted queries and ETags save on a GraphQL read, in process.

The same page of items (``--first`` items with geometry, properties, assets and
collection) is asked for four ways, rounds alternating the order: POST with the query,
GET with the query in the URL, GET with only the persisted query's hash (Apollo's
``useGETForHashedQueries``), and that GET again with ``If-None-Match`` (a 304 without a
body). The app is ``create_app`` through httpx's ASGI transport, as in bench/graphql.py;
prints p50 / p95 in ms and the bytes sent and received per request.

    .venv/bin/python bench/graphql_http.py --database-url postgresql+asyncpg://…/db --reps 50
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would shadow graphql-core's ``graphql`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402

import httpx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from stacql.app import create_app  # noqa: E402
from stacql.settings import DatabaseSettings, RedisSettings, Settings  # noqa: E402

PAGE = """query Page($first: Int) { items(first: $first) { nodes {
  id collectionId datetime geometry properties assets { key href roles } collection { id } } } }"""
Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def _modes(first: int) -> dict[str, tuple[Send, int]]:
    """Each way of asking: the request and the bytes its URL and body take."""
    variables = json.dumps({"first": first})
    digest = hashlib.sha256(PAGE.encode()).hexdigest()
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}})
    body = json.dumps({"query": PAGE, "variables": {"first": first}})
    full = {"query": PAGE, "variables": variables}
    hashed = {"extensions": extensions, "variables": variables}
    url_size = len(str(httpx.URL("/graphql", params=full)))
    hashed_size = len(str(httpx.URL("/graphql", params=hashed)))
    etag: dict[str, str] = {}

    async def post(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/graphql", content=body,
                                 headers={"content-type": "application/json"})

    async def get(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/graphql", params=full)

    async def apq(client: httpx.AsyncClient) -> httpx.Response:
        response = await client.get("/graphql", params=hashed)
        etag["value"] = response.headers["etag"]
        return response

    async def revalidated(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/graphql", params=hashed,
                                headers={"if-none-match": etag["value"]})

    return {"POST query": (post, len(body) + 9), "GET query": (get, url_size),
            "GET hash (APQ)": (apq, hashed_size), "GET hash, 304": (revalidated, hashed_size)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--first", type=int, default=100)
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    settings = Settings(database=DatabaseSettings(url=args.database_url),
                        redis=RedisSettings(url=args.redis_url))
    app = create_app(settings)
    modes = _modes(args.first)
    times: dict[str, list[float]] = {name: [] for name in modes}
    received: dict[str, int] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as client:
        digest = hashlib.sha256(PAGE.encode()).hexdigest()
        await client.post("/graphql", json={  # registers the persisted query; warms up
            "query": PAGE, "variables": {"first": args.first},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}})
        for name, (send, _) in modes.items():
            assert (await send(client)).status_code in (200, 304), name
        for rep in range(args.reps):
            order = list(modes) if rep % 2 == 0 else list(reversed(modes))
            for name in order:
                started = time.perf_counter()
                response = await modes[name][0](client)
                times[name].append((time.perf_counter() - started) * 1000)
                received[name] = len(response.content)
    await app.state.engine.dispose()
    print(f"GraphQL over HTTP: a page of {args.first} items, {args.reps} alternating rounds")
    print(f"{'':16} {'p50 ms':>8} {'p95 ms':>8} {'sent B':>8} {'received B':>11}")
    for name, values in times.items():
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"{name:16} {statistics.median(values):8.2f} {p95:8.2f} {modes[name][1]:8} "
              f"{received[name]:11}")


if __name__ == "__main__":
    asyncio.run(main())
