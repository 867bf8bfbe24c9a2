"""A real ``stacql worker`` process (forking work horses, RQ's scheduler, the saved-search
match trigger) configured by environment variables, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.live_server import _die_with_parent, _stop
from tests.support.paths import REPO


@contextmanager
def stacql_worker(
    database_url: str, redis_url: str, queue: str, log: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """``stacql worker --queue QUEUE`` on the given database and Redis; stopped on exit.
    Its output goes to ``log``."""
    settings = {
        "STACQL_DATABASE_URL": database_url, "STACQL_REDIS_URL": redis_url,
        "STACQL_STORAGE_URL": str(log.parent / "assets"), **env,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "stacql.cli", "worker", "--queue", queue],
            cwd=REPO, env={**os.environ, **settings}, stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        try:
            yield process
        finally:
            _stop(process)
