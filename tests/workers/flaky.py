"""A job function for the retry tests: it fails with a transient error a set number of
times (counted in Redis, so the count survives between attempts), then succeeds."""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from catalog.errors import DatabaseUnavailable
from workers.context import WorkerConfig
from workers.jobs import record_step, run_recorded


def flaky(job_id: str, failures: int) -> Any:
    """Fail ``failures`` times with ``DatabaseUnavailable``, then finish the job row."""
    rq_job = get_current_job()
    attempt = int(rq_job.connection.incr(f"flaky:{job_id}"))

    async def work(config: WorkerConfig) -> dict[str, Any]:
        from catalog.db import create_engine, create_sessionmaker
        from catalog.jobs import mark_finished, mark_started

        if attempt <= failures:
            raise DatabaseUnavailable(f"database unavailable (attempt {attempt})")
        engine = create_engine(config.database_url, pool_size=1)
        try:
            sessions = create_sessionmaker(engine)
            await record_step(sessions, mark_started, job_id)
            await record_step(sessions, mark_finished, job_id, {"attempts": attempt})
        finally:
            await engine.dispose()
        return {"attempts": attempt}

    return run_recorded(job_id, work)
