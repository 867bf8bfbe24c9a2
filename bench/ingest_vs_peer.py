"""Bulk load side by side with the peer: ``pypgstac load`` and ``catalog.ingest.load_path``
on the same 100,000 items, in alternating rounds on this machine, each into a fresh
database; prints every round and the median ratio.

The peer's venv comes from ``../shared/peer/run_peer.sh`` (one run sets it up, in
``/tmp/stacql-peer/venv`` by default). Alternating rounds, rather than one run of each
at different times, keep a machine whose speed drifts from favouring either side.

    .venv/bin/python bench/ingest_vs_peer.py --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the catalog importable
    sys.path.insert(0, str(REPO))

from bench.ingest import (  # noqa: E402
    DEFAULT_DATABASE_URL,
    bench_files,
    drop_database,
    run_loads,
)
from catalog.db import upgrade  # noqa: E402
from catalog.ingest.loader import DEFAULT_BATCH_SIZE  # noqa: E402

DEFAULT_PEER_VENV = Path(os.environ.get("TMPDIR", "/tmp")) / "stacql-peer" / "venv"
PEER_DATABASE = "stacql_bench_peer"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of items")
    parser.add_argument("--seed", type=int, default=42, help="gen_items.py seed")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both loads")
    parser.add_argument(
        "--peer-venv", type=Path, default=DEFAULT_PEER_VENV,
        help="the venv run_peer.sh made (holds bin/pypgstac)",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="ours")
    return parser.parse_args(argv)


def _peer_env(database_url: str) -> dict[str, str]:
    """libpq variables for pypgstac: the server of our bench database, its own database."""
    url = make_url(database_url)
    return {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "root",
        "PGPASSWORD": url.password or "unused-with-trust-auth",
        "PGDATABASE": PEER_DATABASE,
    }


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def peer_load(venv: Path, database_url: str, items: Path, collection: Path) -> float:
    """Seconds of ``pypgstac load items`` into a freshly migrated database (the same
    command and method as run_peer.sh)."""
    env = _peer_env(database_url)
    drop_database(str(make_url(database_url).set(database=PEER_DATABASE)))
    _run(["createdb", PEER_DATABASE], env)
    pypgstac = str(venv / "bin" / "pypgstac")
    _run([pypgstac, "migrate"], env)
    _run([pypgstac, "load", "collections", str(collection), "--method", "insert_ignore"], env)
    started = time.perf_counter()
    _run([pypgstac, "load", "items", str(items), "--method", "insert_ignore"], env)
    seconds = time.perf_counter() - started
    drop_database(str(make_url(database_url).set(database=PEER_DATABASE)))
    return seconds


def our_load(database_url: str, items: Path, collection: Path) -> float:
    """Seconds of our first load into a fresh database (``bench/ingest.py --fresh``)."""
    drop_database(database_url)
    upgrade(database_url)
    first, _ = asyncio.run(run_loads(database_url, items, collection, DEFAULT_BATCH_SIZE))
    if first.errors or first.items.inserted != first.total:
        raise SystemExit(f"our load went wrong: {first.errors[:3]}")
    return first.seconds


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print them with the median ratio."""
    args = parse_args(argv)
    if not (args.peer_venv / "bin" / "pypgstac").is_file():
        raise SystemExit(f"no pypgstac in {args.peer_venv}: run ../shared/peer/run_peer.sh")
    items, collection = bench_files(args.n, args.seed)
    print(f"{args.n} items, {args.rounds} rounds (peer first in each)\n")
    print(f"{'round':>5} {'peer s':>8} {'ours s':>8} {'ratio':>7}")
    ratios = []
    for number in range(1, args.rounds + 1):
        peer = peer_load(args.peer_venv, args.database_url, items, collection)
        ours = our_load(args.database_url, items, collection)
        ratios.append(peer / ours)
        print(f"{number:>5} {peer:>8.2f} {ours:>8.2f} {peer / ours:>6.2f}x", flush=True)
    print(f"\nmedian: ours {statistics.median(ratios):.2f}x the peer's items/s "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
