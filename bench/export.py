"""Export and import benchmark: items/s and MB/s of exports against the reference
converters, and of a stac-geoparquet load against our ndjson load.

Loads ``--n`` synthetic items (the peer's ``gen_items.py``, generated into ``bench/out``
when missing) into a dedicated database, then alternates ``--rounds`` rounds of:

- our export of the whole collection to ndjson and to stac-geoparquet
  (``catalog.export.export_to_file``: PostgreSQL to file, pages of 1,000 items);
- the references converting the same search's ndjson (our ndjson export) to
  stac-geoparquet: the ``stac-geoparquet`` library (``parse_stac_ndjson_to_parquet``)
  and ``rustac translate``, which read a file and never touch a database;
- loads into the emptied collection of our stac-geoparquet file and of the ndjson.

Medians are printed, with the peak resident memory of a ``stacql export`` process.

    .venv/bin/python bench/export.py --n 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make bench/ importable as a package
    sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402

from bench.ingest import COLLECTION_ID, bench_files, drop_database  # noqa: E402
from catalog.access import Principal  # noqa: E402
from catalog.db import create_engine, create_sessionmaker, upgrade  # noqa: E402
from catalog.export import ExportSpec  # noqa: E402
from catalog.export.run import export_to_file  # noqa: E402
from catalog.ingest import load_path  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench_export"
RUSTAC = Path(sys.executable).with_name("rustac")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="items to generate and load")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    return parser.parse_args(argv)


Timings = dict[str, list[tuple[float, int]]]
"""Per label, (seconds, bytes written or read) of each round."""


async def timed(timings: Timings, label: str, work: Callable[[], Awaitable[int]]) -> None:
    start = time.perf_counter()
    size = await work()
    timings.setdefault(label, []).append((time.perf_counter() - start, size))
    print(f"  {label}: {timings[label][-1][0]:.1f} s", flush=True)


def _stac_geoparquet(source: Path, target: Path) -> int:
    from stac_geoparquet.arrow import parse_stac_ndjson_to_parquet

    parse_stac_ndjson_to_parquet(source, target)
    return target.stat().st_size


def _rustac(source: Path, target: Path) -> int:
    subprocess.run([str(RUSTAC), "translate", str(source), str(target)], check=True)
    return target.stat().st_size


async def one_round(sessions, folder: Path, timings: Timings, n: int) -> None:
    spec = ExportSpec.of(Principal("admin"), {"collections": [COLLECTION_ID]}, "ndjson")
    lines, parquet = folder / "export.ndjson", folder / "export.parquet"

    async def ours(path: Path, file_format: str) -> int:
        spec_of = ExportSpec.of(Principal("admin"), spec.search, file_format)
        result = await export_to_file(sessions, spec_of, path)
        assert result.items == n, result
        return result.bytes

    await timed(timings, "export ndjson (ours)", lambda: ours(lines, "ndjson"))
    await timed(timings, "export geoparquet (ours)", lambda: ours(parquet, "geoparquet"))
    await timed(timings, "ndjson→geoparquet (stac-geoparquet)", lambda: asyncio.to_thread(
        _stac_geoparquet, lines, folder / "reference.parquet"))
    if RUSTAC.is_file():
        await timed(timings, "ndjson→geoparquet (rustac)", lambda: asyncio.to_thread(
            _rustac, lines, folder / "rustac.parquet"))

    async def load(path: Path) -> int:
        async with sessions() as session, session.begin():
            await session.execute(text("TRUNCATE items, assets CASCADE"))
        report = await load_path(sessions, path)
        assert report.ok and report.items.inserted == n, (report.items, report.errors[:3])
        return path.stat().st_size

    await timed(timings, "load geoparquet (ours)", lambda: load(parquet))
    await timed(timings, "load ndjson (ours)", lambda: load(lines))


def peak_export_memory(database_url: str, folder: Path) -> float:
    """Peak RSS in MiB of a ``stacql export`` process exporting the collection."""
    env = {**os.environ, "STACQL_DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-m", "stacql.cli", "export", str(folder / "cli.parquet"),
         "-c", COLLECTION_ID], check=True, cwd=REPO, env=env, capture_output=True,
    )
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def print_table(timings: Timings, n: int) -> None:
    print(f"\n{n} items, medians of {len(next(iter(timings.values())))} rounds")
    print(f"{'step':<40} {'s':>7} {'items/s':>9} {'MB/s':>7} {'MB':>7}")
    for label, runs in timings.items():
        seconds = statistics.median(s for s, _ in runs)
        size = runs[-1][1] / 1e6
        print(f"{label:<40} {seconds:7.1f} {n / seconds:9.0f} {size / seconds:7.1f} "
              f"{size:7.1f}")
    print("MB/s: of the file written (exports, conversions) or read (loads).")


async def run(args: argparse.Namespace) -> None:
    items, collection = bench_files(args.n, args.seed)
    drop_database(args.database_url)
    upgrade(args.database_url)
    engine = create_engine(args.database_url, pool_size=4)
    try:
        sessions = create_sessionmaker(engine)
        report = await load_path(sessions, collection)
        report += await load_path(sessions, items)
        assert report.ok, report.errors[:3]
        timings: Timings = {}
        with tempfile.TemporaryDirectory(prefix="stacql-bench-export-") as folder:
            for number in range(args.rounds):
                print(f"round {number + 1}", flush=True)
                await one_round(sessions, Path(folder), timings, args.n)
            peak = peak_export_memory(args.database_url, Path(folder))
        print_table(timings, args.n)
        print(f"peak RSS of `stacql export` (geoparquet, {args.n} items): {peak:.0f} MiB")
    finally:
        await engine.dispose()
        if not args.keep:
            drop_database(args.database_url)


def main(argv: list[str] | None = None) -> int:
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
