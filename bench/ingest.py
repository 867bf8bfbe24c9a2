"""Bulk-load benchmark: items per second of loading an ndjson file into an empty collection.

Generates the synthetic items with the peer's ``gen_items.py`` when they are missing
(into ``bench/out/``), migrates a dedicated database, loads the collection, then times
``catalog.ingest.load_path`` on the ndjson twice: the first load fills the empty
collection, the second must find every item unchanged. The wall time covers reading,
decoding and validating the JSON as well as writing, like the peer's ``pypgstac load``.

    .venv/bin/python bench/ingest.py --fresh --peer-summary /tmp/stacql-peer/runs/latest/summary.txt
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the catalog importable
    sys.path.insert(0, str(REPO))

from catalog.db import create_engine, create_sessionmaker, upgrade  # noqa: E402
from catalog.db.migrate import sync_url  # noqa: E402
from catalog.ingest import LoadReport, UpsertSummary, load_path  # noqa: E402
from catalog.ingest.loader import DEFAULT_BATCH_SIZE  # noqa: E402

OUT_DIR = REPO / "bench" / "out"
GEN_ITEMS = REPO.parent / "shared" / "peer" / "gen_items.py"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench"
COLLECTION_ID = "bench"
# --fresh drops a database; only ones whose name says they are ours.
DROPPABLE_PREFIX = "stacql_bench"
_PEER_LINE = re.compile(r"load bench items:\s*(\d+) in ([\d.]+) s = ([\d.]+) items/s")


@dataclass(frozen=True)
class LoadFigure:
    """One timed load: wall seconds and what the upsert reported."""

    label: str
    seconds: float
    items: UpsertSummary
    errors: list[str]
    cpu_seconds: float = 0.0

    @property
    def total(self) -> int:
        """Items read from the file (inserted, updated or unchanged)."""
        return self.items.inserted + self.items.updated + self.items.unchanged

    @property
    def rate(self) -> float:
        """Items per second of wall time."""
        return self.total / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class PeerFigure:
    """The peer's ``load bench items`` line from its run summary."""

    items: int
    seconds: float
    rate: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of items")
    parser.add_argument("--seed", type=int, default=42, help="gen_items.py seed")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="items per transaction"
    )
    parser.add_argument(
        "--processes", type=int, default=None,
        help="worker processes preparing the batches (default: the loader's choice; 0: none)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help=f"drop and recreate the database first "
        f"(only a database named {DROPPABLE_PREFIX}*)"
    )
    parser.add_argument(
        "--peer-summary", type=Path, help="the peer's summary.txt, to print its figure beside ours"
    )
    return parser.parse_args(argv)


def bench_files(n: int, seed: int, out_dir: Path = OUT_DIR) -> tuple[Path, Path]:
    """(items ndjson, collection JSON), generated with the peer's script when missing."""
    items = out_dir / f"bench-items-n{n}-s{seed}.ndjson"
    collection = out_dir / "bench-collection.json"
    if not items.is_file() or not collection.is_file():
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"generating {items.name} with {GEN_ITEMS} ...", flush=True)
        partial = items.with_suffix(".partial")
        subprocess.run(
            [sys.executable, str(GEN_ITEMS), "--n", str(n), "--seed", str(seed),
             "--collection", COLLECTION_ID, "--out", str(partial),
             "--collection-out", str(collection)],
            check=True,
        )
        partial.rename(items)
    return items, collection


def drop_database(database_url: str) -> None:
    """Drop the bench database (closing its connections); refuses any other name."""
    url = make_url(sync_url(database_url))
    if not (url.database or "").startswith(DROPPABLE_PREFIX):
        raise SystemExit(
            f"--fresh drops only databases named {DROPPABLE_PREFIX}*, not {url.database!r}"
        )
    admin = create_sync_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


async def _item_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        query = text("SELECT count(*) FROM items WHERE collection_id = :c")
        return (await session.execute(query, {"c": COLLECTION_ID})).scalar_one()


async def timed_load(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    label: str,
    batch_size: int,
    processes: int | None = None,
) -> LoadFigure:
    """Load ``path`` with ``load_path`` and time it (wall clock)."""
    cpu_before = _client_cpu()
    started = time.perf_counter()
    report: LoadReport = await load_path(
        sessions, path, batch_size=batch_size, processes=processes
    )
    seconds = time.perf_counter() - started
    return LoadFigure(label, seconds, report.items, report.errors, _client_cpu() - cpu_before)


def _client_cpu() -> float:
    """CPU seconds of this process and of its finished children (the loader's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def _vacuum_analyze(database_url: str) -> float:
    """VACUUM ANALYZE the item tables (outside any transaction); returns seconds."""
    engine = create_engine(database_url, pool_size=1)
    try:
        started = time.perf_counter()
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE items"))
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def run_loads(
    database_url: str,
    items: Path,
    collection: Path,
    batch_size: int,
    processes: int | None = None,
) -> tuple[LoadFigure, LoadFigure]:
    """Load the collection, then time the first and the second load of the items."""
    engine = create_engine(database_url, pool_size=2)
    try:
        sessions = create_sessionmaker(engine)
        report = await load_path(sessions, collection)
        if not report.ok:
            raise SystemExit(f"the collection was refused: {report.errors}")
        existing = await _item_count(sessions)
        if existing:
            raise SystemExit(
                f"collection {COLLECTION_ID!r} already holds {existing} items; rerun with "
                "--fresh to time a load into an empty collection"
            )
        first = await timed_load(
            sessions, items, "first load (empty collection)", batch_size, processes
        )
        second = await timed_load(
            sessions, items, "second load (same file)", batch_size, processes
        )
        return first, second
    finally:
        await engine.dispose()


def read_peer_figure(path: Path) -> PeerFigure:
    """The peer's bench-items load figure, from the ``load bench items:`` line."""
    match = _PEER_LINE.search(path.read_text())
    if match is None:
        raise SystemExit(
            f"{path}: no 'load bench items:' line (a run with KEEP_DB=1 times no load; "
            "pass the summary.txt of a run that loaded the items)"
        )
    return PeerFigure(int(match[1]), float(match[2]), float(match[3]))


def _figure_row(figure: LoadFigure) -> str:
    counts = figure.items
    return (
        f"{figure.label:34} {figure.total:>8} {figure.seconds:>9.2f} {figure.rate:>9.0f}   "
        f"{counts.inserted}/{counts.updated}/{counts.unchanged}"
    )


def print_table(
    first: LoadFigure, second: LoadFigure, vacuum_s: float, peer: PeerFigure | None
) -> None:
    """The figure table: our two loads, then the peer's load and our ratio to it."""
    head = f"{'load':34} {'items':>8} {'seconds':>9} {'items/s':>9}   inserted/updated/unchanged"
    print(head)
    print("-" * len(head))
    print(_figure_row(first))
    print(_figure_row(second))
    if peer is not None:
        print(
            f"{'peer: pypgstac load (insert_ignore)':34} {peer.items:>8} "
            f"{peer.seconds:>9.2f} {peer.rate:>9.0f}"
        )
        print(f"\nfirst load vs peer: {first.rate / peer.rate:.2f}x  "
              f"(second load vs peer: {second.rate / peer.rate:.2f}x)")
    print(f"client CPU (this process and its workers): first load {first.cpu_seconds:.2f} s, "
          f"second load {second.cpu_seconds:.2f} s")
    print(f"VACUUM ANALYZE items (untimed above): {vacuum_s:.2f} s")


def _check(first: LoadFigure, second: LoadFigure, n: int) -> list[str]:
    problems = [f"{f.label}: {e}" for f in (first, second) for e in f.errors]
    if first.items.inserted != n:
        problems.append(f"first load inserted {first.items.inserted} items, expected {n}")
    if second.items.inserted or second.items.updated or second.items.unchanged != n:
        problems.append("second load was not a no-op (expected 0 inserted, 0 updated, "
                        f"{n} unchanged)")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when a load was refused or not idempotent."""
    args = parse_args(argv)
    # Read first: a summary without the figure should not cost a whole benchmark run.
    peer = read_peer_figure(args.peer_summary) if args.peer_summary else None
    items, collection = bench_files(args.n, args.seed)
    if args.fresh:
        drop_database(args.database_url)
    upgrade(args.database_url)
    print(f"loading {items} ({items.stat().st_size / 1e6:.0f} MB) in batches of "
          f"{args.batch_size} into {make_url(args.database_url).database}", flush=True)
    first, second = asyncio.run(
        run_loads(args.database_url, items, collection, args.batch_size, args.processes)
    )
    vacuum_s = asyncio.run(_vacuum_analyze(args.database_url))
    print()
    print_table(first, second, vacuum_s, peer)
    problems = _check(first, second, args.n)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
