"""Running workers: the RQ worker classes that give jobs their configuration, and the
entry point ``stacql worker --queue NAME`` calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from workers.companions import CompanionPlan, start_companions, stop_companions
from workers.context import WORKER_CONFIG, WorkerConfig
from workers.jobs import FINAL_FAILURE
from workers.queue import DEFAULT_QUEUE, create_queue

PUBSUB_READ_SECONDS = 1.0
"""How long the listener for RQ's worker commands waits in one read."""


class _ConfiguredWorker:
    """Sets :data:`~workers.context.WORKER_CONFIG` while each job runs, and keeps RQ's
    own retries for lost jobs."""

    config: WorkerConfig

    def subscribe(self) -> None:
        """Listen for RQ's worker commands (stop a job, shut down) as RQ does, with a
        short read: RQ reads for up to 60 s, and when its stop comes just after the
        unsubscribe reply was read, redis-py's stop waits out that whole read, so a
        worker's exit (every ``--burst`` run) took a minute now and then."""
        self.pubsub = self.connection.pubsub()  # type: ignore[attr-defined]
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})  # type: ignore[attr-defined]
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_READ_SECONDS, daemon=True,
            exception_handler=self._pubsub_exception_handler,  # type: ignore[attr-defined]
        )

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        token = WORKER_CONFIG.set(self.config)
        try:
            return super().perform_job(job, queue, execution)  # type: ignore[misc]
        finally:
            WORKER_CONFIG.reset(token)

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: StartedJobRegistry | None = None,
        exc_string: str = "",
        execution: Execution | None = None,
    ) -> None:
        """RQ retries a failed job while it has retries left. A job of ours that failed
        for good says so in its meta and is not run again; one without the flag lost its
        work horse (killed, out of memory) and is, like an abandoned job RQ's registry
        cleanup finds after its worker died."""
        if job.get_meta(refresh=True).get(FINAL_FAILURE):
            job.retries_left = 0
        super().handle_job_failure(  # type: ignore[misc]
            job, queue, started_job_registry, exc_string, execution
        )


class StacqlWorker(_ConfiguredWorker, Worker):
    """An RQ worker that runs each job in a forked work horse (the production setup:
    a job that crashes or leaks takes only its horse down)."""

    def __init__(self, queues: Sequence[Queue], config: WorkerConfig, **kwargs: Any) -> None:
        super().__init__(queues, serializer=JSONSerializer, **kwargs)
        self.config = config


class StacqlSimpleWorker(_ConfiguredWorker, SimpleWorker):
    """An RQ worker that runs jobs in its own process (tests, debugging)."""

    def __init__(self, queues: Sequence[Queue], config: WorkerConfig, **kwargs: Any) -> None:
        super().__init__(queues, serializer=JSONSerializer, **kwargs)
        self.config = config


def run_worker(
    redis_url: str,
    database_url: str,
    storage_url: str,
    queues: Sequence[str] = (DEFAULT_QUEUE,),
    *,
    burst: bool = False,
    config: WorkerConfig | None = None,
) -> bool:
    """Work on ``queues`` until stopped (or, with ``burst``, until they are empty).

    Runs RQ's scheduler too, so retries scheduled after transient errors are queued
    again on time, and (unless ``burst``) the companion process
    (``workers.companions``): it queues a saved-search match pass on the first queue
    when items were written (``workers.notify``) and a sweep of expired export files.
    ``config`` overrides the defaults built from the URLs (processor registry, retry
    policy, extraction options). Returns RQ's "worked on something".
    """
    config = config or WorkerConfig(database_url=database_url, storage_url=storage_url)
    connection = Redis.from_url(redis_url)
    companions = None
    try:
        rq_queues = [create_queue(connection, name) for name in queues or (DEFAULT_QUEUE,)]
        worker = StacqlWorker(rq_queues, config, connection=connection)
        if not burst:
            companions = start_companions(
                _companion_plan(config, redis_url, database_url, rq_queues[0].name)
            )
        return bool(worker.work(burst=burst, with_scheduler=True))
    finally:
        stop_companions(companions)
        connection.close()


def _companion_plan(
    config: WorkerConfig, redis_url: str, database_url: str, queue: str
) -> CompanionPlan:
    """The timed tasks a long-running worker keeps beside its jobs."""
    sweeps = config.export_retention is not None and config.export_sweep_seconds > 0
    return CompanionPlan(
        redis_url=redis_url, database_url=database_url, queue=queue,
        match_poll_seconds=max(config.notify.poll_seconds, 0.0),
        export_sweep_seconds=config.export_sweep_seconds if sweeps else 0.0,
    )
