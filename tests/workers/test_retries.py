"""Transient errors are retried by RQ and recorded in the jobs row; the rest are not."""

from __future__ import annotations

from pathlib import Path

from redis import Redis

from catalog.jobs import JobRecord
from tests.workers.conftest import run_with_sessions
from tests.workers.test_jobs import job_row, work
from workers import create_queue, submit_job


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
