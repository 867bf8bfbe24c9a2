"""The timed tasks a long-running worker keeps beside its jobs, in a process of their own.

A worker queues a saved-search match pass when items were written (``MatchTrigger``,
which looks at the database every ``match_poll_seconds``) and a sweep of expired export
files (``ExportSweeper``). Both used to be threads of the worker's process, which RQ
forks for every job: a fork copies whatever locks another thread holds at that moment
(its event loop's, its connection pool's) held for good, and a work horse that needs one
waits forever. So they run in a child process (``python -m workers.companions``) that
never forks and imports only what the timers need (Redis, RQ, and the catalog's query
for waiting changes when the match trigger is on: about 35 MB resident, 107 MB with it).

The process ends when the worker stops it, and on its own when the worker is gone
(killed with no chance to stop it), so no companion outlives its worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

STOP_SECONDS = 10.0
"""How long a worker waits for its companions to finish their current look on stop."""
MATCH_FUNCTION = "workers.notify.match_saved_searches"
MATCH_JOB_ID = "stacql-saved-search-match"
MATCH_TIMEOUT = 15 * 60
SWEEP_FUNCTION = "workers.export.sweep_expired_exports"


@dataclass(frozen=True)
class CompanionPlan:
    """What the companions of one worker do, in plain values (passed as JSON)."""

    redis_url: str
    database_url: str
    queue: str
    match_poll_seconds: float
    """Seconds between looks for written items; 0 for no match trigger."""
    export_sweep_seconds: float
    """Seconds between queued sweeps of expired exports; 0 for none."""

    @property
    def idle(self) -> bool:
        """Whether there is nothing to run (no process is started then)."""
        return self.match_poll_seconds <= 0 and self.export_sweep_seconds <= 0


def enqueue_match(queue: Queue) -> bool:
    """Queue a match pass unless one is queued or running already; False then."""
    try:
        queue.enqueue_call(
            MATCH_FUNCTION, job_id=MATCH_JOB_ID, unique=True, timeout=MATCH_TIMEOUT,
            result_ttl=0, failure_ttl=60, description="match written items to saved searches",
        )
    except DuplicateJobError:
        return False
    return True


def enqueue_sweep(queue: Queue, interval: float) -> bool:
    """Queue a sweep of expired export files unless one of this ``interval``'s slot is
    queued already (every worker asks; one job per slot runs); False then."""
    slot = int(time.time() // interval)
    try:
        queue.enqueue_call(
            SWEEP_FUNCTION, job_id=f"stacql-export-sweep-{slot}", unique=True, timeout=3600,
            result_ttl=60, failure_ttl=24 * 3600, description="remove expired export files",
        )
    except DuplicateJobError:
        return False
    return True


class MatchTrigger(threading.Thread):
    """Looks for written items every ``poll_seconds`` and queues a match pass when some
    wait (a pass already queued or running is not doubled)."""

    def __init__(self, database_url: str, queue: Queue, poll_seconds: float) -> None:
        super().__init__(name="stacql-match-trigger", daemon=True)
        self.database_url = database_url
        self.queue = queue
        self.poll_seconds = poll_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        from catalog.db import create_engine, create_sessionmaker
        from catalog.errors import CatalogError
        from catalog.saved.matching import pending_changes

        engine = create_engine(self.database_url, pool_size=1)
        sessions = create_sessionmaker(engine)
        try:
            while not self.stopped.wait(self.poll_seconds):
                try:
                    async with sessions() as session:
                        waiting = await pending_changes(session)
                    if waiting:
                        await asyncio.to_thread(enqueue_match, self.queue)
                except (CatalogError, RedisError) as exc:
                    log.warning("saved-search match trigger: %s", exc)
                except Exception:
                    # A dead thread would stop every notice of this worker until it is
                    # restarted: log the fault and look again at the next tick.
                    log.exception("saved-search match trigger failed")
        finally:
            await engine.dispose()

    def stop(self) -> None:
        """Stop after the current look."""
        self.stopped.set()


class ExportSweeper(threading.Thread):
    """Queues a sweep of expired export files every ``interval`` seconds, so files
    expire on time even when no new export runs."""

    def __init__(self, queue: Queue, interval: float) -> None:
        super().__init__(name="stacql-export-sweeper", daemon=True)
        self.queue = queue
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                enqueue_sweep(self.queue, self.interval)
            except RedisError as exc:
                log.warning("export sweep not queued: %s", exc)

    def stop(self) -> None:
        """Stop before the next sweep is queued."""
        self.stopped.set()


def start_companions(plan: CompanionPlan) -> subprocess.Popen[bytes] | None:
    """Start the companion process of ``plan`` (its output goes where the worker's
    goes); None when the plan has nothing to do."""
    if plan.idle:
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "workers.companions", json.dumps(asdict(plan)),
         str(os.getpid())],
        stdin=subprocess.DEVNULL,
    )


def stop_companions(
    process: subprocess.Popen[bytes] | None, timeout: float = STOP_SECONDS
) -> None:
    """Ask the companion process to stop after its current look; kill it past
    ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("worker companions did not stop in %.0f s: killed", timeout)
        process.kill()
        process.wait()


def run_companions(plan: CompanionPlan, parent_pid: int) -> None:
    """The companion process: runs the plan's timers until SIGTERM or until the process
    ``parent_pid`` is gone."""
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    # Ctrl-C reaches the whole process group: the worker stops us itself, after its job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection = Redis.from_url(plan.redis_url)
    queue = Queue(plan.queue, connection=connection, serializer=JSONSerializer)
    timers: list[MatchTrigger | ExportSweeper] = []
    if plan.match_poll_seconds > 0:
        timers.append(MatchTrigger(plan.database_url, queue, plan.match_poll_seconds))
    if plan.export_sweep_seconds > 0:
        timers.append(ExportSweeper(queue, plan.export_sweep_seconds))
    for timer in timers:
        timer.start()
    try:
        while not stopped.wait(1.0):
            if os.getppid() != parent_pid:
                log.info("the worker is gone: its companions stop")
                break
    finally:
        for timer in timers:
            timer.stop()
        for timer in timers:
            timer.join(STOP_SECONDS)
        connection.close()


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    run_companions(CompanionPlan(**json.loads(sys.argv[1])), int(sys.argv[2]))
