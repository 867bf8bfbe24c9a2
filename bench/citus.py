"""Our searches on a Citus cluster against the same searches on one PostgreSQL.

Loads the same generated items (the peer's ``gen_items.py``: three collections of
unequal sizes) through ``catalog.ingest.load_path`` into a single-node database and into
a Citus coordinator whose ``items`` are distributed (``--column id``:
hashed by item id, or ``--column collection``: by collection id), then sends each
search of ``bench/search.py``'s request mix (scoped to one collection, and some across
all collections), paging, counts and item lookups to both, alternately. Per kind it
prints whether every request returned the same pages (ids in order, and the documents'
digest), the median latency on each side, and what Citus made of the statement (one
shard: router; N shards: fan-out; subplans computed first). A statement Citus refuses
is printed with its error.

Needs a Citus cluster (``scripts/citus/build.sh``, then ``scripts/citus/cluster.sh
start``); the script makes the databases (``--fresh``: drops them first).

    .venv/bin/python bench/citus.py --fresh --items 4000 --column id
    .venv/bin/python bench/citus.py --column collection --fresh
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the catalog importable
    sys.path.insert(0, str(REPO))

from bench.search import BUILDERS, PAGING_PAGES  # noqa: E402
from catalog.db import (  # noqa: E402
    create_engine,
    create_read_sessionmaker,
    create_sessionmaker,
    upgrade,
)
from catalog.db.citus import DISTRIBUTION_COLUMNS, distribute_catalog  # noqa: E402
from catalog.db.migrate import sync_url  # noqa: E402
from catalog.ingest import load_path  # noqa: E402
from catalog.search import build_search, search  # noqa: E402
from catalog.search.count import _Explain  # noqa: E402 - EXPLAIN with bound parameters
from catalog.search.engine import page_statement  # noqa: E402
from catalog.search.lookup import get_item  # noqa: E402
from catalog.search.render import item_json, item_lookup  # noqa: E402

GEN_ITEMS = REPO.parent / "shared" / "peer" / "gen_items.py"
CLUSTER = REPO / "scripts" / "citus" / "cluster.sh"
OUT_DIR = REPO / "bench" / "out" / "citus"
SINGLE_URL = "postgresql+asyncpg://root@127.0.0.1:5432/citus_14_single"
CITUS_URL = "postgresql+asyncpg://root@127.0.0.1:5441/citus_14_dist"
# Unequal on purpose: distributed by collection, the largest one is one shard's load.
COLLECTION_SHARES = {"citus-a": 0.6, "citus-b": 0.3, "citus-c": 0.1}

# Kinds of bench/search.py also sent without a collection (across the whole catalog).
ACROSS_KINDS = ("bbox_small", "datetime", "cql2_text", "sortby_datetime", "paging")


def generate(total: int, seed: int) -> list[tuple[Path, Path]]:
    """(collection JSON, items ndjson) per collection, generated when missing."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    files = []
    for n, (collection, share) in enumerate(COLLECTION_SHARES.items()):
        count = max(1, round(total * share))
        items = OUT_DIR / f"{collection}-{count}-{seed}.ndjson"
        meta = OUT_DIR / f"{collection}.json"
        if not items.is_file() or not meta.is_file():
            subprocess.run(
                [sys.executable, str(GEN_ITEMS), "--n", str(count), "--seed",
                 str(seed + n), "--collection", collection, "--out", str(items),
                 "--collection-out", str(meta)],
                check=True,
            )
        files.append((meta, items))
    return files


def _admin(url: str, statement: str) -> None:
    """Run one statement on the server's ``postgres`` database, in autocommit."""
    engine = create_sync_engine(
        sync_url(url).rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def distribute(url: str, by: str, shard_count: int) -> list[str]:
    """``catalog.db.citus.distribute_catalog`` on the coordinator at ``url``."""
    engine = create_sync_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return distribute_catalog(conn, by, shard_count)
    finally:
        engine.dispose()


async def load(url: str, files: list[tuple[Path, Path]]) -> float:
    """Load the collections then their items; returns the wall seconds of the items."""
    engine = create_engine(url, pool_size=4)
    try:
        sessions = create_sessionmaker(engine)
        for meta, _ in files:
            report = await load_path(sessions, meta)
            if report.errors:
                raise SystemExit(f"{url}: collection {meta.name} refused: {report.errors}")
        started = time.perf_counter()
        for _, items in files:
            report = await load_path(sessions, items, processes=0)
            if report.errors:
                raise SystemExit(f"{url}: items {items.name} refused: {report.errors[:3]}")
        seconds = time.perf_counter() - started
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        return seconds
    finally:
        await engine.dispose()


@dataclass
class Outcome:
    """What one request returned on one side: the ids of each page, a digest of every
    document and the count; or the error."""

    pages: list[list[str]] = field(default_factory=list)
    digest: str = ""
    matched: int | None = None
    error: str | None = None

    def same_as(self, other: Outcome) -> bool:
        """Same pages, same documents, same count."""
        return (self.error is None and other.error is None and self.pages == other.pages
                and self.digest == other.digest and self.matched == other.matched)


Request = tuple[str, dict[str, Any]]  # ("search" | "item", parameters)


async def run_one(session: AsyncSession, kind: str, request: Request) -> Outcome:
    """One request: a search (``paging``: the first page and up to 5 next ones) or an
    item lookup."""
    outcome, digest = Outcome(), hashlib.sha256()
    what, params = request
    try:
        if what == "item":
            document = await get_item(session, params["collection"], params["id"])
            outcome.pages.append([document["id"]])
            digest.update(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
        else:
            page = await search(session, build_search(**params))
            outcome.matched = page.matched
            for number in range(PAGING_PAGES + 1 if kind.endswith("paging") else 1):
                if number:
                    if page.next_token is None:
                        break
                    page = await search(session, build_search(**params, token=page.next_token))
                outcome.pages.append([item["id"] for item in page.items])
                for item in page.items:
                    digest.update(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
    except Exception as error:  # a refused statement is a result here
        outcome.error = str(error).strip().splitlines()[0][:200]
        await session.rollback()
    outcome.digest = digest.hexdigest()
    return outcome


def requests(kind: str, seed: int, size: int, ids: dict[str, list[str]]) -> list[Request]:
    """``size`` requests of one kind, each scoped to one collection in turn, or (kinds
    ``all_*``) to none."""
    rng = random.Random(f"{seed}:{kind}")
    collections = list(ids)
    out: list[Request] = []
    for i in range(size):
        collection = collections[i % len(collections)]
        if kind == "item":
            out.append(("item", {"collection": collection, "id": rng.choice(ids[collection])}))
            continue
        base = kind.removeprefix("all_")
        params = BUILDERS[base]((rng, collection, 10, ids[collection]))
        if kind.startswith("all_"):
            out.append(("search", {"limit": 10, **params}))
        else:
            out.append(("search", {"collections": [collection], "limit": 10, **params}))
    return out


async def citus_plan(session: AsyncSession, request: Request) -> str:
    """How Citus runs the page's statement: shards per task list, subplans first."""
    what, params = request
    if what == "item":  # get_item's statement
        statement: Any = text("EXPLAIN (FORMAT JSON) " + item_lookup().text).bindparams(
            collection_id=params["collection"], item_id=params["id"]
        )
    else:
        statement = _Explain(page_statement(build_search(**params), [item_json().label("item")]))
    try:
        result = await session.execute(statement)
    except Exception as error:
        await session.rollback()
        return "plan error: " + str(error).strip().splitlines()[0][:80]
    plan = result.scalar_one()
    plan = orjson.loads(plan) if isinstance(plan, str | bytes) else plan
    tasks: list[int] = []
    subplans = [0]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Task Count" in node:
                tasks.append(int(node["Task Count"]))
            subplans[0] += len(node.get("Subplans", ()))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(plan)
    if not tasks:
        return "not distributed"
    shape = "router" if max(tasks) == 1 else "fan-out"
    return f"{shape} tasks={'+'.join(map(str, tasks)) or '?'}" + (
        f" subplans={subplans[0]}" if subplans[0] else "")


def median(values: list[float]) -> float:
    """Median, or NaN without values."""
    return statistics.median(values) if values else float("nan")


async def compare(single_url: str, citus_url: str, kinds: list[str], reps: int,
                  seed: int) -> int:
    """Send every request to both databases alternately; print one line per kind.
    Returns the number of kinds with a difference or an error."""
    single = create_engine(single_url, pool_size=1, parallel_workers_per_gather=0)
    citus = create_engine(citus_url, pool_size=1, parallel_workers_per_gather=0)
    bad = 0
    try:
        make: dict[str, async_sessionmaker[AsyncSession]] = {
            "single": create_read_sessionmaker(single),
            "citus": create_read_sessionmaker(citus),
        }
        async with make["single"]() as s_session, make["citus"]() as c_session:
            ids: dict[str, list[str]] = {}
            for collection in COLLECTION_SHARES:
                rows = await s_session.execute(
                    text("SELECT id FROM items WHERE collection_id = :c ORDER BY id"),
                    {"c": collection},
                )
                ids[collection] = list(rows.scalars())
            sessions = {"single": s_session, "citus": c_session}
            head = (f"{'kind':22} {'items':>5} {'same':>7} {'single ms':>10} {'citus ms':>9} "
                    f"{'ratio':>6}  citus plan / error")
            print(head)
            print("-" * len(head))
            for kind in kinds:
                pool = requests(kind, seed, reps, ids)
                times: dict[str, list[float]] = {"single": [], "citus": []}
                same, errors, returned = 0, [], []
                for side in sessions:  # warm-up, untimed
                    await run_one(sessions[side], kind, pool[0])
                for i, request in enumerate(pool):
                    outcomes: dict[str, Outcome] = {}
                    # Alternate which side goes first (the machine is shared and noisy).
                    order = ("single", "citus") if i % 2 == 0 else ("citus", "single")
                    for side in order:
                        started = time.perf_counter()
                        outcomes[side] = await run_one(sessions[side], kind, request)
                        times[side].append((time.perf_counter() - started) * 1000.0)
                    if outcomes["citus"].error:
                        errors.append(outcomes["citus"].error)
                    same += outcomes["single"].same_as(outcomes["citus"])
                    returned.append(sum(map(len, outcomes["single"].pages)))
                plan = await citus_plan(c_session, pool[0])
                s_ms, c_ms = median(times["single"]), median(times["citus"])
                note = f"ERROR: {errors[0]}" if errors else plan
                bad += same != len(pool)
                print(f"{kind:22} {statistics.fmean(returned):>5.1f} {same:>3}/{len(pool):<3} "
                      f"{s_ms:>10.2f} {c_ms:>9.2f} {c_ms / s_ms:>6.1f}  {note}", flush=True)
    finally:
        await single.dispose()
        await citus.dispose()
    return bad


def all_kinds() -> list[str]:
    """Every kind: bench/search.py's, scoped to a collection; some across collections;
    item lookups."""
    return [*BUILDERS, *(f"all_{k}" for k in ACROSS_KINDS), "item"]


def prepare(args: argparse.Namespace) -> None:
    """Make, migrate, distribute and load both databases."""
    files = generate(args.items, args.seed)
    if args.fresh:
        _admin(args.single_url, f'DROP DATABASE IF EXISTS "{_database(args.single_url)}" '
               "WITH (FORCE)")
        subprocess.run([str(CLUSTER), "dropdb", _database(args.citus_url)], check=True)
    subprocess.run([str(CLUSTER), "createdb", _database(args.citus_url)], check=True)
    upgrade(args.single_url)
    upgrade(args.citus_url)
    for given_up in distribute(args.citus_url, args.column, args.shard_count):
        print(f"given up on Citus: {given_up}")
    for name, url in (("single", args.single_url), ("citus", args.citus_url)):
        seconds = asyncio.run(load(url, files))
        print(f"{name}: loaded {args.items} items in {seconds:.1f} s "
              f"({args.items / seconds:.0f} items/s)", flush=True)
    print(f"citus: {items_per_node(args.citus_url, args.column)}")


def items_per_node(url: str, by: str) -> str:
    """How the items are spread: items on each worker, and shards holding any."""
    column = DISTRIBUTION_COLUMNS[by]
    engine = create_sync_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT p.nodeport, count(*) AS n, count(DISTINCT s.shardid) AS shards "
                "FROM (SELECT get_shard_id_for_distribution_column('items', "
                f"{column}) AS shardid FROM items) s "
                "JOIN pg_dist_shard_placement p USING (shardid) GROUP BY 1 ORDER BY 1"
            )).all()
    finally:
        engine.dispose()
    return ", ".join(f"port {r.nodeport}: {r.n} items in {r.shards} shards" for r in rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single-url", default=SINGLE_URL)
    parser.add_argument("--citus-url", default=CITUS_URL)
    parser.add_argument("--column", choices=sorted(DISTRIBUTION_COLUMNS), default="id",
                        help="distribution column of items")
    parser.add_argument("--shard-count", type=int, default=8)
    parser.add_argument("--items", type=int, default=4000, help="items over 3 collections")
    parser.add_argument("--reps", type=int, default=12, help="requests per kind")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--kinds", default=",".join(all_kinds()))
    parser.add_argument("--fresh", action="store_true", help="drop both databases first")
    parser.add_argument("--no-load", action="store_true",
                        help="compare only (databases loaded by an earlier run)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Prepare the databases unless told not to, compare, and exit 1 on a difference."""
    args = parse_args(argv)
    if not args.no_load:
        prepare(args)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    load_average = Path("/proc/loadavg").read_text().split()[0]
    out(f"\n{args.items} items, items distributed by {args.column}, "
        f"{args.shard_count} shards on 2 workers; load average {load_average}")
    bad = asyncio.run(compare(args.single_url, args.citus_url, kinds, args.reps, args.seed))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
