"""A worker's companion process (the match trigger and the export sweep, out of the
process RQ forks): started with a long-running ``stacql worker``, gone with it, however
the worker ends."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests.support.worker_process import stacql_worker
from tests.workers.conftest import TEST_REDIS_URL

ENV = {"STACQL_NOTIFY_POLL_SECONDS": "0.5", "STACQL_EXPORTS_SWEEP_SECONDS": "1"}


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir()
            for child in (task / "children").read_text().split()]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _processes_naming(word: str) -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and word in _command(int(entry.name))]


def _running(pid: int) -> bool:
    """Alive and not a zombie (a reparented child may wait long for its reaper)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "zombie" not in state


def _companion_of(worker: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [pid for pid in _children(worker) if "workers.companions" in _command(pid)]
        if found:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"worker {worker} started no companion process")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads Linux's /proc")
@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_the_companion_process_ends_with_its_worker(
    scratch_url: str, tmp_path: Path, ending: signal.Signals
) -> None:
    log = tmp_path / "worker.log"
    queue = f"test-companions-{uuid.uuid4().hex[:8]}"
    with stacql_worker(scratch_url, TEST_REDIS_URL, queue, log, ENV) as worker:
        companion = _companion_of(worker.pid)
        # It runs the timers, not RQ's loop: its command names the module, it has the
        # worker's plan, and the worker's own process keeps running beside it.
        assert "workers.companions" in _command(companion)
        assert queue in _command(companion)
        assert worker.poll() is None
        try:
            worker.send_signal(ending)
            assert _gone_within(companion, 15), log.read_text(errors="replace")
        finally:
            # RQ's scheduler, forked by the worker (it may start after the companion),
            # outlives a killed worker, RQ's own way: the test leaves none running.
            for pid in _processes_naming(queue):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    assert not _running(companion)
