"""The jobs service: creation, the status machine, progress and outcomes."""

from __future__ import annotations

import uuid

import pytest

from catalog.errors import Conflict, InvalidInput, NotFound
from catalog.jobs import (
    create_job,
    get_job,
    mark_failed,
    mark_finished,
    mark_requeued,
    mark_started,
    set_progress,
)


async def _create(sessions, **kwargs):
    async with sessions() as session, session.begin():
        return await create_job(session, "extract_item", {"key": "a/b.tif"}, **kwargs)


async def _apply(sessions, step, *args):
    async with sessions() as session, session.begin():
        return await step(session, *args)


async def test_a_new_job_is_queued_with_its_params(scratch_sessions) -> None:
    job = await _create(scratch_sessions)
    stored = await _apply(scratch_sessions, get_job, job.id)
    assert (stored.status, stored.progress, stored.params) == ("queued", 0.0, {"key": "a/b.tif"})
    assert stored == job


async def test_a_job_goes_from_started_through_progress_to_finished(scratch_sessions) -> None:
    job = await _create(scratch_sessions)
    await _apply(scratch_sessions, mark_started, job.id, "reading")
    halfway = await _apply(scratch_sessions, set_progress, str(job.id), 0.5, "halfway")
    done = await _apply(scratch_sessions, mark_finished, job.id, {"item_id": "x"})
    assert (halfway.status, halfway.progress, halfway.message) == ("started", 0.5, "halfway")
    assert (done.status, done.progress, done.result, done.is_final) == (
        "finished", 1.0, {"item_id": "x"}, True,
    )
    assert done.updated_at >= done.created_at


async def test_a_failed_job_keeps_its_error_and_cannot_restart(scratch_sessions) -> None:
    job = await _create(scratch_sessions)
    await _apply(scratch_sessions, mark_started, job.id)
    failed = await _apply(scratch_sessions, mark_failed, job.id, "INVALID_RASTER: no pixels")
    assert (failed.status, failed.error) == ("failed", "INVALID_RASTER: no pixels")
    with pytest.raises(Conflict, match="is failed; it cannot be started"):
        await _apply(scratch_sessions, mark_started, job.id)


async def test_a_requeued_job_waits_with_the_transient_error(scratch_sessions) -> None:
    job = await _create(scratch_sessions)
    await _apply(scratch_sessions, mark_started, job.id)
    waiting = await _apply(scratch_sessions, mark_requeued, job.id, "database unavailable")
    restarted = await _apply(scratch_sessions, mark_started, job.id)
    assert (waiting.status, waiting.error) == ("queued", "database unavailable")
    assert (restarted.status, restarted.error) == ("started", None)


async def test_progress_outside_zero_to_one_is_refused(scratch_sessions) -> None:
    job = await _create(scratch_sessions)
    await _apply(scratch_sessions, mark_started, job.id)
    with pytest.raises(InvalidInput, match="within"):
        await _apply(scratch_sessions, set_progress, job.id, 1.5)


async def test_progress_of_a_job_not_started_is_a_conflict(scratch_sessions) -> None:
    job = await _create(scratch_sessions)
    with pytest.raises(Conflict, match="is queued"):
        await _apply(scratch_sessions, set_progress, job.id, 0.2)


async def test_a_finished_job_cannot_fail_afterwards(scratch_sessions) -> None:
    job = await _create(scratch_sessions)
    await _apply(scratch_sessions, mark_started, job.id)
    await _apply(scratch_sessions, mark_finished, job.id, {})
    with pytest.raises(Conflict, match="is finished"):
        await _apply(scratch_sessions, mark_failed, job.id, "late")


async def test_an_unknown_job_is_not_found(scratch_sessions) -> None:
    with pytest.raises(NotFound, match="no job"):
        await _apply(scratch_sessions, mark_started, uuid.uuid4())


async def test_a_job_id_that_is_not_a_uuid_is_invalid_input(scratch_sessions) -> None:
    with pytest.raises(InvalidInput, match="not a UUID"):
        await _apply(scratch_sessions, get_job, "42")


async def test_a_given_job_id_is_kept_and_cannot_be_reused(scratch_sessions) -> None:
    job_id = uuid.uuid4()
    job = await _create(scratch_sessions, job_id=job_id)
    assert job.id == job_id
    with pytest.raises(Conflict):
        await _create(scratch_sessions, job_id=job_id)
