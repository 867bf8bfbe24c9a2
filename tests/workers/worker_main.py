"""``python -m tests.workers.worker_main DB_URL STORE QUEUE``: a real forking stacql worker
(as ``stacql worker`` runs) on the test Redis, with a short retry policy (1 s backoff) so
the robustness tests need not wait minutes."""

from __future__ import annotations

import sys

from tests.workers.conftest import TEST_REDIS_URL
from workers import RetryPolicy, WorkerConfig, run_worker


def main(database_url: str, storage_url: str, queue: str) -> None:
    config = WorkerConfig(
        database_url=database_url, storage_url=storage_url, retry=RetryPolicy(5, (1,))
    )
    run_worker(TEST_REDIS_URL, database_url, storage_url, [queue], config=config)


if __name__ == "__main__":
    main(*sys.argv[1:4])
