"""CPU per request of the STAC API, in process: the peer's HTTP request mix sent straight
to the ASGI app (no server, no sockets), timed by the process's CPU clock.

Wall-clock figures on a shared 2-core machine move with everyone else's load; the CPU
our process spends on one request barely does, so this is the figure to compare two
versions of the API code by. ``create_app`` is built from the ``STACQL_*`` environment
(``STACQL_DATABASE_URL`` at the bench database, as for ``stacql serve``); each kind's
requests come from ``../shared/peer/search_bench.py``'s seeded pools (``paging``: the
first page and five ``next`` links, one op). CPU counts every thread of this process
(thread hand-offs included), not PostgreSQL's.

    STACQL_DATABASE_URL=postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench \\
        .venv/bin/python bench/search_cpu.py --reps 300 --rounds 3

``--code DIR`` imports the API from another checkout (the same mix against main's code);
``--profile FILE`` writes a cProfile of the timed requests (``pstats`` reads it),
``--pyinstrument FILE`` pyinstrument's call tree (``pip install --target DIR
pyinstrument`` and ``PYTHONPATH=DIR``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
PEER_BENCH = REPO.parent / "shared" / "peer" / "search_bench.py"
TYPES = ("items", "search_bbox", "search_bbox_datetime", "search_intersects", "search_filter",
         "search_sortby", "paging")


class AsgiClient:
    """Requests sent to an ASGI app as uvicorn would, answers read back whole."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def request(
        self, method: str, target: str, body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        """(status, decoded JSON body) of one request."""
        parts = urlsplit(target)
        payload = json.dumps(body).encode() if body is not None else b""
        headers = [(b"host", b"127.0.0.1:8080"), (b"accept", b"application/json"),
                   (b"connection", b"keep-alive")]
        if body is not None:
            headers += [(b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode())]
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": method, "scheme": "http",
            "path": parts.path, "raw_path": parts.path.encode(), "root_path": "",
            "query_string": parts.query.encode(), "headers": headers,
            "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000), "state": {},
        }
        done = asyncio.Event()
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        status, chunks = 0, []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        await self.app(scope, receive, send)
        return status, json.loads(b"".join(chunks) or b"null")


async def op(client: AsgiClient, kind: str, request: tuple[str, str, Any]) -> None:
    """One op of the mix: one request, or for ``paging`` the first page and 5 next ones."""
    method, path, body = request
    status, doc = await client.request(method, path, body)
    if status != 200:
        raise SystemExit(f"{kind}: {status} {doc}")
    if kind != "paging":
        return
    for _ in range(5):
        link = next((x for x in doc.get("links", ()) if x["rel"] == "next"), None)
        if link is None:
            return
        parts = urlsplit(link["href"])
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        status, doc = await client.request(link.get("method", "GET"), target, link.get("body"))
        if status != 200:
            raise SystemExit(f"{kind} page: {status} {doc}")


def _peer_bench() -> Any:
    """``../shared/peer/search_bench.py`` as a module (its request pools)."""
    spec = importlib.util.spec_from_file_location("search_bench", PEER_BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sampler(path: str | None) -> Any:
    """A pyinstrument profiler when asked for (not a dependency: install it aside and
    put it on PYTHONPATH); it samples only while this process runs Python, so time
    spent waiting for PostgreSQL shows as the event loop's ``select``."""
    if path is None:
        return None
    from pyinstrument import Profiler

    return Profiler(interval=0.0005, async_mode="disabled")


async def run(args: argparse.Namespace) -> dict[str, list[float]]:
    """CPU ms per op of each kind, one figure per round."""
    from stacql.app import create_app
    from stacql.settings import Settings

    sb = _peer_bench()
    app = create_app(Settings())
    client = AsgiClient(app)
    kinds = [k for k in args.types.split(",") if k]
    pools = {k: sb.build_pool(k, args.seed, args.warmup + args.reps, args.collection, 10)
             for k in kinds}
    results: dict[str, list[float]] = {k: [] for k in kinds}
    profile = cProfile.Profile() if args.profile else None
    sampler = _sampler(args.pyinstrument)
    async with app.router.lifespan_context(app):
        for kind in kinds:
            for request in pools[kind][: args.warmup]:
                await op(client, kind, request)
        for _ in range(args.rounds):
            for kind in kinds:
                timed = pools[kind][args.warmup:]
                if profile is not None:
                    profile.enable()
                if sampler is not None:
                    sampler.start()
                cpu, wall = time.process_time(), time.perf_counter()
                for request in timed:
                    await op(client, kind, request)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                if profile is not None:
                    profile.disable()
                if sampler is not None:
                    sampler.stop()
                results[kind].append(1000 * cpu / len(timed))
                print(f"{kind:22} cpu {1000 * cpu / len(timed):6.2f} ms/op  "
                      f"wall {1000 * wall / len(timed):6.2f} ms/op", file=sys.stderr)
    if profile is not None:
        profile.dump_stats(args.profile)
    if sampler is not None:
        Path(args.pyinstrument).write_text(
            sampler.output_text(unicode=True, show_all=False, timeline=False)
        )
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the median CPU ms per op of each kind over the rounds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--reps", type=int, default=200, help="timed ops per kind and round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed ops per kind")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--code", help="import the API from this checkout instead")
    parser.add_argument("--profile", help="write a cProfile of the timed ops here")
    parser.add_argument("--pyinstrument", help="write pyinstrument's call tree here")
    args = parser.parse_args(argv)
    # Not bench/ itself: bench/graphql.py would shadow graphql-core.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
    sys.path.insert(0, str(Path(args.code).resolve() if args.code else REPO))
    results = asyncio.run(run(args))
    print(f"{'type':22} {'CPU ms/op (median of rounds)':>30}")
    for kind, values in results.items():
        print(f"{kind:22} {statistics.median(values):>30.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
