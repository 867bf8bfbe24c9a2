"""Servers the benchmarks start side by side: a free port, and a process run until done."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
DATABASE = "postgresql+asyncpg://root@127.0.0.1:5432/stacql_bench_serving"
"""The database the serving benchmarks (tiles, assets) load their items into."""


def free_port() -> int:
    """A loopback TCP port nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(command: list[str], env: dict[str, str], url: str) -> Iterator[str]:
    """Run a server command until the block ends; yields ``url`` once it answers."""
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{command[0]} did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(20)
