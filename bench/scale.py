"""One command for the scale benchmark: 100k, 1M, 10M items, ours beside pgstac.

    .venv/bin/python bench/scale.py --sizes 100000,1000000,10000000 --duration 10 --rounds 2

The sizes are nested prefixes of one ``gen_items.py`` stream (``--seed``, 42): the first
100,000 items of the 1M file are the 100k file. For each size, in order:

1. the items between the previous size and this one are generated (streamed, only that
   slice is written: the 10M run writes about 18 GB once, not 20 GB per size);
2. they are loaded into ours (``catalog.ingest.load_path``, into a fresh database at the
   first size) and into the peer's pgstac: the first size through
   ``../shared/peer/run_peer.sh`` (its venv, ``pypgstac migrate``, test data, timed
   ``pypgstac load --method insert_ignore``, VACUUM ANALYZE), later slices with the same
   ``pypgstac load`` command; both load times are printed; after the first load ours
   declares the ``eo:cloud_cover`` index of the bench collection (what an operator does
   with ``stacql db index-property``);
3. bytes per item, relation by relation (``bench/storage.py``);
4. both servers are started with the same number of uvicorn workers (``--workers``) and
   the peer's ``search_bench.py`` mix runs against both in alternating rounds
   (``bench/search_http.py``): medians, ratios, id digests;
5. for each kind of request, the statements our engine sends for the first
   ``--explain`` requests of its pool are run under EXPLAIN ANALYZE (literal values; the
   page query, not the bounded count of first pages) and their median planning +
   execution time is printed beside our HTTP p50 at concurrency 1.

Databases: ``--database`` (ours) and ``--peer-database``, dropped and made again at the
first size (only names starting ``stacql_bench`` or ``scale``). Generated files go to
``bench/out/scale/``. The servers listen on free loopback ports and are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the catalog importable
    sys.path.insert(0, str(REPO))

from bench import search_http, storage  # noqa: E402
from bench.ingest import GEN_ITEMS, timed_load  # noqa: E402
from bench.servers import free_port, serve  # noqa: E402
from catalog.db import create_engine, create_sessionmaker, upgrade  # noqa: E402
from catalog.ingest import load_path  # noqa: E402
from catalog.ingest.loader import DEFAULT_BATCH_SIZE  # noqa: E402
from catalog.search import build_search, search  # noqa: E402
from catalog.search.engine import page_statement, sent_page_query  # noqa: E402
from catalog.search.property_indexes import create_property_index  # noqa: E402
from catalog.search.render import item_text_parts  # noqa: E402

OUT = REPO / "bench" / "out" / "scale"
RUN_PEER = REPO.parent / "shared" / "peer" / "run_peer.sh"
PEER_DIR = Path(os.environ.get("PEER_DIR", "/tmp/stacql-peer"))
COLLECTION = "bench"
DROPPABLE = ("stacql_bench", "scale")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000",
                        help="comma-separated item counts, increasing")
    parser.add_argument("--seed", type=int, default=42, help="gen_items.py seed")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of each side")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--types", default=",".join(search_http.DEFAULT_TYPES))
    parser.add_argument("--explain", type=int, default=10, help="requests per kind explained")
    parser.add_argument("--database", default="stacql_bench_scale")
    parser.add_argument("--peer-database", default="stacql_bench_scale_peer")
    parser.add_argument("--json-out", type=Path, help="every figure, as JSON")
    return parser.parse_args(argv)


def _admin(sql: str) -> None:
    with psycopg.connect(storage.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql)


def _fresh(database: str) -> None:
    if not database.startswith(DROPPABLE):
        raise SystemExit(f"refusing to drop {database!r}: not a name of {DROPPABLE}")
    _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def database_url(database: str) -> str:
    """Our SQLAlchemy URL of ``database`` on the local server."""
    return f"postgresql+asyncpg://root@127.0.0.1:5432/{database}"


def item_slice(start: int, stop: int, seed: int) -> Path:
    """Items ``start`` to ``stop`` of the seeded stream, generated once into ``OUT``."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"bench-items-s{seed}-{start}-{stop}.ndjson"
    if path.is_file():
        return path
    partial = path.with_suffix(".partial")
    generator = subprocess.Popen(
        [sys.executable, str(GEN_ITEMS), "--n", str(stop), "--seed", str(seed),
         "--collection", COLLECTION, "--out", "-",
         "--collection-out", str(OUT / "bench-collection.json")],
        stdout=subprocess.PIPE, text=True,
    )
    assert generator.stdout is not None
    with partial.open("w") as out:
        out.writelines(itertools.islice(generator.stdout, start, stop))
    if generator.wait():
        raise SystemExit("gen_items.py failed")
    partial.rename(path)
    return path


async def load_ours(database: str, items: Path, first: bool) -> dict[str, float]:
    """Load a slice into ours (the collection and the declared index first); seconds."""
    engine = create_engine(database_url(database), pool_size=2)
    figures: dict[str, float] = {}
    try:
        sessions = create_sessionmaker(engine)
        if first:
            report = await load_path(sessions, OUT / "bench-collection.json")
            if not report.ok:
                raise SystemExit(f"the collection was refused: {report.errors}")
        load = await timed_load(sessions, items, "load", DEFAULT_BATCH_SIZE)
        if load.errors:
            raise SystemExit(f"our load refused items: {load.errors[:3]}")
        figures["load_s"] = load.seconds
        figures["items_per_s"] = load.rate
        started = time.perf_counter()
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE items"))
        figures["vacuum_s"] = time.perf_counter() - started
        if first:
            started = time.perf_counter()
            await create_property_index(engine, "eo:cloud_cover", COLLECTION)
            figures["property_index_s"] = time.perf_counter() - started
    finally:
        await engine.dispose()
    return figures


def _peer_env(database: str, port: int, workers: int, n: int) -> dict[str, str]:
    return {**os.environ, "PEER_DB": database, "PEER_PORT": str(port),
            "UVICORN_WORKERS": str(workers), "N_ITEMS": str(n), "GEN_SEED": "42",
            "SKIP_VALIDATE": "1", "SKIP_BENCH": "1", "PEER_DIR": str(PEER_DIR)}


def load_peer(database: str, items: Path, first: bool, n: int, workers: int) -> float:
    """Load a slice into the peer's pgstac; seconds of ``pypgstac load``."""
    if first:
        _fresh(database)
        env = _peer_env(database, free_port(), workers, n)
        done = subprocess.run(["bash", str(RUN_PEER)], env=env, capture_output=True, text=True)
        summary = (PEER_DIR / "runs" / "latest" / "summary.txt").read_text()
        if done.returncode:
            raise SystemExit(f"run_peer.sh failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        line = next(x for x in summary.splitlines() if x.startswith("load bench items:"))
        return float(line.split(" in ")[1].split(" s")[0])
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGUSER": "root", "PGDATABASE": database}
    started = time.perf_counter()
    subprocess.run([str(PEER_DIR / "venv" / "bin" / "pypgstac"), "load", "items", str(items),
                    "--method", "insert_ignore"], env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    subprocess.run(["psql", "-h", "127.0.0.1", "-d", database, "-qc",
                    "VACUUM ANALYZE pgstac.items"], check=True)
    return seconds


def ours_command(port: int, workers: int) -> list[str]:
    """The command serving our API on ``port`` with ``workers`` uvicorn workers."""
    return [sys.executable, "-m", "stacql.cli", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers)]


def _peer_command(port: int, workers: int) -> list[str]:
    return [str(PEER_DIR / "venv" / "bin" / "uvicorn"), "stac_fastapi.pgstac.app:create_app",
            "--factory", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", "--no-access-log"]


def run_mix(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The request mix against both servers in alternating rounds: table and medians."""
    sb = search_http.load_peer_bench()
    plan = search_http.Plan(
        types=tuple(t for t in args.types.split(",") if t),
        levels=tuple(int(c) for c in args.concurrency.split(",")),
        duration=args.duration, warmup=args.warmup_seconds, rounds=args.rounds,
        seed=1234, collection=COLLECTION, limit=10, verify=20,
    )
    ours_port, peer_port = free_port(), free_port()
    # the peer runs with --no-access-log: ours too
    ours_env = {"STACQL_DATABASE_URL": database_url(args.database),
                "STACQL_API_ACCESS_LOG": "false"}
    peer_env = {"PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "root",
                "PGDATABASE": args.peer_database,
                "PGPASSWORD": "trust", "STAC_FASTAPI_TITLE": "peer"}
    with tempfile.TemporaryDirectory() as empty:  # the peer reads ./.env: run it elsewhere
        peer_command = ["env", "-C", empty, *_peer_command(peer_port, args.workers)]
        with (
            serve(ours_command(ours_port, args.workers), ours_env,
                  f"http://127.0.0.1:{ours_port}/") as ours_url,
            serve(peer_command, peer_env, f"http://127.0.0.1:{peer_port}/_mgmt/ping") as _,
        ):
            ours = search_http.Runs("ours", ours_url.rstrip("/"))
            peer = search_http.Runs("peer", f"http://127.0.0.1:{peer_port}")
            search_http.run(sb, plan, [ours, peer])
    medians = {
        f"{kind}/c{level}": {
            name: {m: runs.median(kind, level, m) for m in ("p50_ms", "p95_ms", "ops_per_s")}
            for name, runs in (("ours", ours), ("peer", peer))
        }
        for kind in plan.types for level in plan.levels
    }
    return search_http.table(plan, ours, peer), medians


def request_params(kind: str, body: dict[str, Any] | None) -> dict[str, Any]:
    """``build_search``'s arguments for one request of the peer's pool of ``kind``."""
    if kind == "items" or body is None:
        return {"collections": [COLLECTION], "limit": 10}
    params = {k: v for k, v in body.items() if k in ("collections", "bbox", "datetime",
                                                    "intersects", "filter", "sortby", "limit")}
    params["filter_lang"] = body.get("filter-lang")
    return params


class _ExplainAnalyze(Executable, ClauseElement):
    """``EXPLAIN (ANALYZE, FORMAT JSON)`` of a statement, its parameters bound as ours."""

    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(_ExplainAnalyze, "postgresql")
def _compile_explain(element: _ExplainAnalyze, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (ANALYZE, FORMAT JSON) " + compiler.process(element.statement, **kw)


async def _explain(session: Any, statement: Any) -> float:
    plan = (await session.execute(_ExplainAnalyze(statement))).scalar_one()
    plan = (json.loads(plan) if isinstance(plan, str | bytes) else plan)[0]
    return plan["Planning Time"] + plan["Execution Time"]


async def _sent(session: Any, request: Any) -> Any:
    """The page statement the server sends for ``request``, its values bound."""
    return (await sent_page_query(session, request, item_text_parts())).bound()


async def explain_kinds(database: str, types: list[str], n: int) -> dict[str, float]:
    """Median planning + execution ms of the statements our engine sends, per kind (for
    ``paging``, the sum over its six pages)."""
    sb = search_http.load_peer_bench()
    engine = create_engine(database_url(database), pool_size=1, parallel_workers_per_gather=0)
    times: dict[str, float] = {}
    try:
        async with create_sessionmaker(engine)() as session:
            for kind in types:
                pool = sb.build_pool(kind, 1234, n, COLLECTION, 10)
                spent = []
                for _, _, body in pool:
                    request = build_search(**request_params(kind, body))
                    total = await _explain(session, await _sent(session, request))
                    for _ in range(sb.PAGING_PAGES if kind == "paging" else 0):
                        page = await search(session, request)
                        if page.next_token is None:
                            break
                        request = build_search(**request_params(kind, body),
                                               token=page.next_token)
                        total += await _explain(session, await _sent(session, request))
                    spent.append(total)
                times[kind] = statistics.median(spent)
            await session.rollback()
    finally:
        await engine.dispose()
    return times


# The two searches the issue timed over 1.1 M items (6.9 s and 2.0 s), plus the sort in
# one collection (the declared index is the bench collection's).
ISSUE_SEARCHES: dict[str, dict[str, Any]] = {
    "q=naip": {"q": "naip"},
    "sortby=-eo:cloud_cover": {"sortby": "-properties.eo:cloud_cover"},
    "sortby=-eo:cloud_cover in bench": {"sortby": "-properties.eo:cloud_cover",
                                        "collections": [COLLECTION]},
}


async def explain_issue_searches(database: str) -> dict[str, float]:
    """Median planning + execution ms of our statement for each of ``ISSUE_SEARCHES``."""
    engine = create_engine(database_url(database), pool_size=1, parallel_workers_per_gather=0)
    try:
        async with create_sessionmaker(engine)() as session:
            return {
                name: statistics.median([
                    await _explain(session, page_statement(build_search(**params),
                                                           item_text_parts()))
                    for _ in range(3)
                ])
                for name, params in ISSUE_SEARCHES.items()
            }
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run every size; print loads, storage, the mix and the SQL times."""
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    figures: dict[str, Any] = {}
    previous = 0
    for size in sizes:
        print(f"\n##### {size} items", flush=True)
        items = item_slice(previous, size, args.seed)
        first = previous == 0
        if first:
            _fresh(args.database)
            upgrade(database_url(args.database))
        ours_load = asyncio.run(load_ours(args.database, items, first))
        peer_s = load_peer(args.peer_database, items, first, size, args.workers)
        n = size - previous
        print(f"load of {n} items: ours {ours_load['load_s']:.1f} s ({n / ours_load['load_s']:.0f}"
              f" items/s), pgstac {peer_s:.1f} s ({n / peer_s:.0f} items/s): "
              f"{peer_s / ours_load['load_s']:.2f}x; ours: {ours_load}", flush=True)
        count_ours, rel_ours = storage.ours(args.database)
        count_peer, rel_peer = storage.peer(args.peer_database)
        total_ours = storage.report("ours", count_ours, rel_ours)
        total_peer = storage.report("pgstac", count_peer, rel_peer)
        print(f"bytes/item ours / pgstac: "
              f"{(total_ours / count_ours) / (total_peer / count_peer):.2f}", flush=True)
        table, medians = run_mix(args)
        print(table, flush=True)
        sql = asyncio.run(explain_kinds(args.database, list(search_http.DEFAULT_TYPES),
                                        args.explain))
        print(f"\n{'kind':22} {'SQL ms (plan+exec)':>18} {'HTTP p50 c=1':>13} {'ratio':>6}")
        for kind, ms in sql.items():
            p50 = medians.get(f"{kind}/c1", {}).get("ours", {}).get("p50_ms")
            ratio = f"{p50 / ms:6.2f}" if p50 else "     -"
            print(f"{kind:22} {ms:18.2f} {p50 or float('nan'):13.1f} {ratio}")
        issue = asyncio.run(explain_issue_searches(args.database))
        for name, ms in issue.items():
            print(f"{name:34} {ms:9.2f} ms (SQL, plan+exec)")
        figures[str(size)] = {"issue_searches_ms": issue,
                              "load": {"ours": ours_load, "peer_s": peer_s},
                              "bytes_per_item": {"ours": total_ours / count_ours,
                                                 "peer": total_peer / count_peer},
                              "mix": medians, "sql_ms": sql}
        previous = size
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
