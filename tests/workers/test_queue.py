"""Enqueueing: bad requests write nothing, an unreachable Redis fails the job row."""

from __future__ import annotations

import pytest
from redis import Redis
from sqlalchemy import Engine, text

from catalog.errors import InvalidDatetime, InvalidStorageKey
from tests.workers.conftest import run_with_sessions
from workers import ExtractRequest, QueueUnavailable, create_queue, enqueue_extract


def _jobs(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, coalesce(error, '') FROM jobs"))
        return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (ExtractRequest("rasters", "../etc/passwd"), InvalidStorageKey),
        (ExtractRequest("rasters", "a.tif", datetime="yesterday"), InvalidDatetime),
    ],
)
def test_a_bad_request_is_refused_before_anything_is_written(
    catalog_db: str, redis_conn: Redis, sync_engine: Engine, request_: ExtractRequest,
    error: type[Exception],
) -> None:
    queue = create_queue(redis_conn, "stacql-test")
    with pytest.raises(error):
        run_with_sessions(catalog_db, lambda s: enqueue_extract(s, queue, request_))
    assert _jobs(sync_engine) == [] and queue.count == 0


def test_an_unreachable_redis_fails_the_job_row(catalog_db: str, sync_engine: Engine) -> None:
    queue = create_queue(Redis(port=1, socket_connect_timeout=0.5), "stacql-test")
    with pytest.raises(QueueUnavailable, match="could not be queued"):
        run_with_sessions(
            catalog_db, lambda s: enqueue_extract(s, queue, ExtractRequest("rasters", "a.tif"))
        )
    [(status, error)] = _jobs(sync_engine)
    assert status == "failed" and "could not be queued" in error
