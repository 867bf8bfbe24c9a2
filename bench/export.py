"""Export and import benchmark: items/s, MB/s and peak memory of exports against the
reference converters, and of a stac-geoparquet load against our ndjson load.

Loads ``--n`` synthetic items (the peer's ``gen_items.py``, generated into ``bench/out``
when missing) into a dedicated database, then alternates ``--rounds`` rounds (the order
of the steps reversed every other round) of:

- ``stacql export`` of the whole collection to ndjson and to stac-geoparquet, each in a
  process of its own (PostgreSQL to file, pages of 1,000 items);
- with ``--compare-repo``, the same geoparquet export by another checkout's code (to
  compare before and after a change);
- the references converting the same search's ndjson (our ndjson export) to
  stac-geoparquet in a process of their own: the ``stac-geoparquet`` library
  (``parse_stac_ndjson_to_parquet``) and ``rustac translate``, which read a file and
  never touch a database;
- loads into the emptied collection of our stac-geoparquet file and of the ndjson (in
  this process).

Each subprocess's peak resident memory is its own (GNU ``time``), not the largest of
all children's. Medians are printed.

    .venv/bin/python bench/export.py --n 100000 --rounds 3 [--compare-repo ../main]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make bench/ importable as a package
    sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402

from bench.ingest import COLLECTION_ID, bench_files, drop_database  # noqa: E402
from catalog.db import create_engine, create_sessionmaker, upgrade  # noqa: E402
from catalog.ingest import load_path  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench_export"
RUSTAC = Path(sys.executable).with_name("rustac")
TIME = "/usr/bin/time"
STAC_GEOPARQUET = (
    "import sys; from stac_geoparquet.arrow import parse_stac_ndjson_to_parquet; "
    "parse_stac_ndjson_to_parquet(sys.argv[1], sys.argv[2])"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="items to generate and load")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--compare-repo", type=Path, help="a checkout whose export to compare")
    parser.add_argument("--no-loads", action="store_true", help="skip the load steps")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--reuse", action="store_true",
                        help="keep a bench database that already holds the --n items")
    parser.add_argument("--no-rustac", action="store_true",
                        help="skip rustac translate (it holds the whole file: ~2 GB per 100k)")
    return parser.parse_args(argv)


@dataclass
class Run:
    """One step of one round: wall seconds, bytes written or read, peak RSS (MiB) of its
    process (None for steps run in this process)."""

    seconds: float
    size: int
    peak_mib: float | None = None


Timings = dict[str, list[Run]]


def measured(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run ``command``; (wall seconds, peak RSS in MiB of that process alone). GNU time
    starts it: a child forked from this (large) process would keep its size as the
    high-water mark across ``exec``."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        done = subprocess.run(
            [TIME, "-f", "%M", "-o", rss.name, *command], cwd=cwd, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{command} failed: {done.stderr.decode(errors='replace')[-2000:]}")
        return seconds, int(rss.read().split()[-1]) / 1024


def _stacql_export(target: Path) -> list[str]:
    # Run in a checkout's folder, ``-m`` imports that checkout's code.
    return [sys.executable, "-m", "stacql.cli", "export", str(target), "-c", COLLECTION_ID]


def steps(
    args: argparse.Namespace, folder: Path
) -> list[tuple[str, Callable[[], Run]]]:
    """The subprocess steps of a round, by label."""
    env = {**os.environ, "STACQL_DATABASE_URL": args.database_url}
    lines, parquet = folder / "export.ndjson", folder / "export.parquet"

    def process(command: list[str], cwd: Path, target: Path) -> Callable[[], Run]:
        def run() -> Run:
            seconds, peak = measured(command, cwd, env)
            return Run(seconds, target.stat().st_size, peak)

        return run

    found = [
        ("export ndjson (ours)", process(
            _stacql_export(lines), REPO, lines)),
        ("export geoparquet (ours)", process(
            _stacql_export(parquet), REPO, parquet)),
    ]
    if args.compare_repo is not None:
        other = folder / "other.parquet"
        found.append((f"export geoparquet ({args.compare_repo.name})", process(
            _stacql_export(other),
            args.compare_repo.resolve(), other)))
    reference = folder / "reference.parquet"
    found.append(("ndjson→geoparquet (stac-geoparquet)", process(
        [sys.executable, "-c", STAC_GEOPARQUET, str(lines), str(reference)], REPO, reference)))
    if RUSTAC.is_file() and not args.no_rustac:
        rustac = folder / "rustac.parquet"
        found.append(("ndjson→geoparquet (rustac)", process(
            [str(RUSTAC), "translate", str(lines), str(rustac)], REPO, rustac)))
    return found


async def loads(sessions, folder: Path, timings: Timings, n: int) -> None:
    async def load(path: Path) -> Run:
        async with sessions() as session, session.begin():
            await session.execute(text("TRUNCATE items CASCADE"))
        start = time.perf_counter()
        report = await load_path(sessions, path)
        assert report.ok and report.items.inserted == n, (report.items, report.errors[:3])
        return Run(time.perf_counter() - start, path.stat().st_size)

    for label, name in (("load geoparquet (ours)", "export.parquet"),
                        ("load ndjson (ours)", "export.ndjson")):
        timings.setdefault(label, []).append(await load(folder / name))
        print(f"  {label}: {timings[label][-1].seconds:.1f} s", flush=True)


def print_table(timings: Timings, n: int) -> None:
    print(f"\n{n} items, medians of {len(next(iter(timings.values())))} rounds")
    print(f"{'step':<40} {'s':>7} {'items/s':>9} {'MB/s':>7} {'MB':>7} {'peak MiB':>9}")
    for label, runs in timings.items():
        seconds = statistics.median(r.seconds for r in runs)
        size = runs[-1].size / 1e6
        peaks = [r.peak_mib for r in runs if r.peak_mib is not None]
        peak = f"{statistics.median(peaks):9.0f}" if peaks else f"{'-':>9}"
        print(f"{label:<40} {seconds:7.1f} {n / seconds:9.0f} {size / seconds:7.1f} "
              f"{size:7.1f} {peak}")
    print("MB/s: of the file written (exports, conversions) or read (loads). Exports and "
          "conversions run in processes of their own (start-up included).")


async def _holds(database_url: str, n: int) -> bool:
    """Whether the database exists and its bench collection holds ``n`` items."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT count(*) FROM items WHERE collection_id = :c"), {"c": COLLECTION_ID}
            )
            return found.scalar_one() == n
    except Exception:  # no such database, or not migrated yet
        return False
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    items, collection = bench_files(args.n, args.seed)
    if not (args.reuse and await _holds(args.database_url, args.n)):
        drop_database(args.database_url)
    upgrade(args.database_url)
    engine = create_engine(args.database_url, pool_size=4)
    try:
        sessions = create_sessionmaker(engine)
        if not (args.reuse and await _holds(args.database_url, args.n)):
            report = await load_path(sessions, collection)
            report += await load_path(sessions, items)
            assert report.ok, report.errors[:3]
        timings: Timings = {}
        with tempfile.TemporaryDirectory(prefix="stacql-bench-export-") as name:
            folder = Path(name)
            for number in range(args.rounds):
                print(f"round {number + 1}", flush=True)
                # The references read our ndjson export: it runs first in every round.
                first, *rest = steps(args, folder)
                for label, step in [first, *(rest if number % 2 == 0 else rest[::-1])]:
                    timings.setdefault(label, []).append(await asyncio.to_thread(step))
                    last = timings[label][-1]
                    print(f"  {label}: {last.seconds:.1f} s, {last.peak_mib:.0f} MiB",
                          flush=True)
                if not args.no_loads:
                    await loads(sessions, folder, timings, args.n)
        print_table(timings, args.n)
    finally:
        await engine.dispose()
        if not args.keep:
            drop_database(args.database_url)


def main(argv: list[str] | None = None) -> int:
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
