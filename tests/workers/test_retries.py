"""Transient errors are retried by RQ and recorded in the jobs row; the rest are not."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from catalog.jobs import JobRecord
from tests.workers.conftest import run_with_sessions
from tests.workers.test_jobs import job_row, work
from workers import create_queue, submit_job
from workers.jobs import is_transient


def _submit(url: str, redis_conn: Redis, failures: int) -> JobRecord:
    queue = create_queue(redis_conn, "stacql-test")
    params = {"failures": failures}
    return run_with_sessions(
        url, lambda s: submit_job(s, queue, "flaky", "tests.workers.flaky.flaky", params)
    )


def test_a_transient_error_is_retried_until_the_job_succeeds(
    catalog_db: str, redis_conn: Redis, store_root: Path
) -> None:
    job = _submit(catalog_db, redis_conn, failures=2)
    work(redis_conn, catalog_db, store_root, create_queue(redis_conn, "stacql-test"))
    row = job_row(catalog_db, job)
    assert (row.status, row.result, row.error) == ("finished", {"attempts": 3}, None)


def test_a_transient_error_past_the_retry_policy_fails_the_job(
    catalog_db: str, redis_conn: Redis, store_root: Path
) -> None:
    job = _submit(catalog_db, redis_conn, failures=5)
    queue = create_queue(redis_conn, "stacql-test")
    work(redis_conn, catalog_db, store_root, queue)  # the policy allows 2 retries
    row = job_row(catalog_db, job)
    assert row.status == "failed"
    assert row.error == "DATABASE_UNAVAILABLE: database unavailable (attempt 3)"
    assert queue.fetch_job(str(job.id)).is_failed


def test_a_deadlock_postgresql_aborts_is_transient_and_a_bad_query_is_not(catalog_db: str) -> None:
    async def deadlock(sessions: Any) -> list[BaseException]:
        async def take(first: int, second: int, ready: asyncio.Event, go: asyncio.Event) -> None:
            async with sessions() as session, session.begin():
                await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": first})
                ready.set()
                await go.wait()
                await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": second})

        ready_a, ready_b, go = asyncio.Event(), asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(take(1, 2, ready_a, go))
        b = asyncio.create_task(take(2, 1, ready_b, go))
        await ready_a.wait()
        await ready_b.wait()
        go.set()
        outcomes = await asyncio.gather(a, b, return_exceptions=True)
        async with sessions() as session:
            try:
                await session.execute(text("SELECT 1/0"))
            except DBAPIError as exc:
                outcomes.append(exc)
        return [o for o in outcomes if isinstance(o, BaseException)]

    aborted, division = run_with_sessions(catalog_db, deadlock)
    assert "deadlock detected" in str(aborted)
    assert (is_transient(aborted), is_transient(division)) == (True, False)
