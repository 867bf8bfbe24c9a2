"""Start-up time of the ``stacql`` command: ``stacql --help``, run again and again.

    .venv/bin/python bench/cli.py [--runs 20] [--command "--help"]

Prints the median, fastest and slowest wall time of ``stacql <command>`` over ``--runs``
runs (after one run to warm the file cache), and the same for a bare ``python -c pass``:
the part of the time that is the interpreter's own start, not ours. Uses ``hyperfine``
instead when it is on PATH (``--hyperfine``).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

STACQL = Path(sys.executable).with_name("stacql")


def _times(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=True)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def _line(label: str, times: list[float]) -> str:
    return (f"{label:<24} median {statistics.median(times):.3f} s   "
            f"min {min(times):.3f} s   max {max(times):.3f} s   ({len(times)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--command", default="--help", help="arguments given to stacql")
    parser.add_argument("--hyperfine", action="store_true", help="time with hyperfine")
    args = parser.parse_args()
    command = [str(STACQL), *shlex.split(args.command)]
    if args.hyperfine and shutil.which("hyperfine"):
        subprocess.run(["hyperfine", "--warmup", "1", "--runs", str(args.runs),
                        shlex.join(command)], check=True)
        return
    print(_line(f"stacql {args.command}", _times(command, args.runs)))
    print(_line("python -c pass", _times([sys.executable, "-c", "pass"], args.runs)))


if __name__ == "__main__":
    main()
