"""The give-up path of unexpected errors, one part on its own: which clock each state's time limit
runs from, exactly where the limit falls, and what happens when giving up itself goes wrong or
finds the job already moved on."""

from __future__ import annotations

from types import SimpleNamespace

from bot.jobs.schedule import RunnerConfig
from bot.jobs.unexpected import UnexpectedErrors
from bot.storage import Job, JobState
from tests.bot.jobs import test_parts
from tests.bot.jobs.conftest import UnexpectedErrors as ErrorLog
from tests.bot.jobs.fakes import new_job
from tests.bot.jobs.test_parts import Parts

S = JobState
parts = test_parts.parts  # the fixture: each part on its own around a real store
LIMIT = 3600.0
# Far more tries than any test makes: only the time limit can stop these jobs.
PATIENT = RunnerConfig(max_unexpected_errors=1000, poll_timeout=LIMIT, queue_timeout=LIMIT)


def handler_for(parts: Parts, errors: ErrorLog, config: RunnerConfig) -> UnexpectedErrors:
    errors.expect()
    errors.runners.append(SimpleNamespace(stats=parts.stats))  # type: ignore[arg-type]
    return UnexpectedErrors(
        table=parts.table,
        recorder=parts.recorder,
        delivery=parts.delivery,
        config=config,
        clock=parts.time,
        stats=parts.stats,
    )


async def crash(handler: UnexpectedErrors, job_id: str, where: str = "poll") -> None:
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        await handler.crashed(job_id, where)


async def moved(parts: Parts, job: Job, to: JobState, **fields: object) -> Job:
    done = await parts.store.transition_job(job.id, from_states=[job.state], to=to, **fields)
    assert done is not None
    return parts.table.remember(done)


async def test_a_queued_job_stops_exactly_at_the_queue_limit(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    handler = handler_for(parts, unexpected_errors, PATIENT)
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    parts.time.now = job.created_at + LIMIT - 1
    await crash(handler, job.id, "submit")
    assert (await parts.stored(job.id)).state is S.QUEUED and job.id in parts.table
    parts.time.now = job.created_at + LIMIT  # 60 minutes to the second
    await crash(handler, job.id, "submit")
    failed = await parts.stored(job.id)
    assert failed.state is S.FAILED and job.id not in parts.table
    assert "error id" in (failed.status_msg or "")


async def test_an_accepted_job_counts_its_limit_from_acceptance_not_creation(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    handler = handler_for(parts, unexpected_errors, PATIENT)
    job = await parts.store.create_job(new_job())
    job = await moved(parts, job, S.SUBMITTING)
    parts.time.now += 100  # Kling took 100 s to accept it
    job = await moved(parts, job, S.SUBMITTED, submitted_at=parts.time.now, kling_task_id="81")
    assert job.submitted_at == job.created_at + 100
    parts.time.now = job.created_at + LIMIT  # an hour since creation, not since acceptance
    await crash(handler, job.id)
    assert (await parts.stored(job.id)).state is S.SUBMITTED and job.id in parts.table
    parts.time.now = job.submitted_at + LIMIT
    await crash(handler, job.id)
    assert (await parts.stored(job.id)).state is S.FAILED and job.id not in parts.table


async def test_a_finished_job_counts_its_limit_from_when_kling_finished(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    """A later write (the downloaded file's path) moves ``updated_at``, not the limit."""
    handler = handler_for(parts, unexpected_errors, PATIENT)
    job = await parts.accepted_job()
    parts.time.now += 50
    job = await moved(parts, job, S.SUCCEEDED, finished_at=parts.time.now, result_url="http://x/")
    finished_at = parts.time.now
    parts.time.now += 200
    updated = await parts.store.update_job(job.id, result_path="/tmp/result.mp4")
    assert updated is not None and updated.updated_at == finished_at + 200
    parts.table.remember(updated)
    parts.time.now = finished_at + LIMIT - 1
    await crash(handler, job.id, "deliver")
    assert (await parts.stored(job.id)).state is S.SUCCEEDED and job.id in parts.table
    parts.time.now = finished_at + LIMIT
    await crash(handler, job.id, "deliver")
    assert (await parts.stored(job.id)).state is S.FAILED and job.id not in parts.table


async def test_a_job_being_sent_counts_its_limit_from_when_sending_began(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    handler = handler_for(parts, unexpected_errors, PATIENT)
    job = await parts.store.create_job(new_job())
    parts.time.now += 500  # it waited in the local queue first
    job = await moved(parts, job, S.SUBMITTING)
    assert job.updated_at == job.created_at + 500
    parts.time.now = job.created_at + LIMIT
    await crash(handler, job.id, "submit")
    assert (await parts.stored(job.id)).state is S.SUBMITTING and job.id in parts.table
    parts.time.now = job.updated_at + LIMIT
    await crash(handler, job.id, "submit")
    assert (await parts.stored(job.id)).state is S.FAILED and job.id not in parts.table


async def test_an_error_while_giving_up_is_counted_and_the_job_tried_again_later(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    handler = handler_for(parts, unexpected_errors, RunnerConfig(max_unexpected_errors=1))
    job = await parts.accepted_job()
    real_fail = parts.recorder.fail
    fails = 0

    async def fail_once(job: Job, reason: str, *, units: float | None = None) -> None:
        nonlocal fails
        fails += 1
        if fails == 1:
            raise RuntimeError("database is locked")
        await real_fail(job, reason, units=units)

    parts.recorder.fail = fail_once  # type: ignore[method-assign]
    await crash(handler, job.id)
    # Both errors logged with an id and counted; the job is kept and waits before its retry.
    assert parts.stats.unexpected_errors == len(unexpected_errors.records) == 2
    assert (await parts.stored(job.id)).state is S.SUBMITTED and job.id in parts.table
    assert parts.table.due.next_due() == parts.time.now + 30.0
    parts.time.now += 30.0
    await crash(handler, job.id)
    failed = await parts.stored(job.id)
    assert failed.state is S.FAILED and job.id not in parts.table
    last_id = unexpected_errors.records[-1].unexpected_error  # type: ignore[attr-defined]
    assert f"`{last_id}`" in (failed.status_msg or "")


async def test_giving_up_on_a_job_another_actor_moved_adopts_it_and_steps_it_now(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    handler = handler_for(parts, unexpected_errors, RunnerConfig(max_unexpected_errors=1))
    job = await parts.accepted_job()  # the table still says "submitted"
    elsewhere = await parts.store.transition_job(job.id, from_states=[S.SUBMITTED], to=S.PROCESSING)
    assert elsewhere is not None
    await crash(handler, job.id)
    # The failure did not apply (the job had moved on): what the database says is taken up
    # and stepped at once, not after an error backoff.
    assert (await parts.stored(job.id)).state is S.PROCESSING
    assert parts.table[job.id].state is S.PROCESSING
    assert parts.table.due.next_due() == parts.time.now
    assert parts.observer.finished == []
